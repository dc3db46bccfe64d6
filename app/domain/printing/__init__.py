"""Printing: labels and wristbands rendered at once, long documents as print jobs."""
