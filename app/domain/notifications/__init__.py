"""Notifications to staff: one entry point, targeted at a user, role, ward or department."""
