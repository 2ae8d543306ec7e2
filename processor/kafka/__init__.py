"""Kafka clients: the consumer, the transactional producer, topic administration."""
