"""Prometheus metrics (and, later, drift and data-quality monitors)."""
