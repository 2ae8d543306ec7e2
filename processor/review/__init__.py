"""Human review: a queue of escalated events, decided exactly once, with labels fed back to training.

``processor review serve`` consumes ``events.review`` into a Redis review store and serves the
queue as server-rendered pages; ``processor review next`` works the same queue from a terminal.
Each decision writes a label to ``events.feedback`` and the human decision to ``events.scored``
(``decision_source=human``) in one Kafka transaction, guarded by an atomic claim per event_id.
"""
