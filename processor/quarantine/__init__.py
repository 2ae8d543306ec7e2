"""Quarantine: read what was quarantined, and replay it to the input after the cause is fixed."""
