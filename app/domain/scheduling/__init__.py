"""Outpatient scheduling: resources, clinic templates, appointments and their bookings."""
