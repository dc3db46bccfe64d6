"""What the hospital knows and the rules it follows. No request, no current_user here."""
