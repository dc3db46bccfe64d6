"""The patient record every department shares."""
