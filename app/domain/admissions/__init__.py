"""Encounters: who is in which bed. The wards issue builds transfers and discharge on this."""
