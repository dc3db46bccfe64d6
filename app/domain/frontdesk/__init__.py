"""The front desk: patients arriving (check-in, walk-ins), department queues, no-shows."""
