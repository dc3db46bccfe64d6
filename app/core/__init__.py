"""Mechanisms with no hospital knowledge."""
