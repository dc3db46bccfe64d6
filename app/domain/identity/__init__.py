"""Staff identity: users, roles, ward assignments, sessions and sign-in."""
