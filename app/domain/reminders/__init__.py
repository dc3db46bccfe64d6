"""Appointment reminders to patients by e-mail and SMS, as due rows, with channel failover."""
