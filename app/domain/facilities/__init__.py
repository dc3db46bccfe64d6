"""Wards, rooms and beds: the places patients are cared for."""
