"""Development tools: the simulator (``processor simulate``), ``processor demo`` and its gateway
traffic, and ``make eval`` (the Jira urgency evaluation) (docs/design.md §9).

Reached only from the CLI through deferred imports: the serving path, the gateway (ingest) and
the review service never import this package (tools/check_layers.py).
"""
