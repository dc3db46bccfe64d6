"""WHEN: job functions and the periodic schedule. Jobs take ids and plain values."""
