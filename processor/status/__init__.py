"""``processor status``: one screen for the operator, read from Redis and the metrics endpoints."""
