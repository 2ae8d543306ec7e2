"""Bytes in and out: Avro schemas and single-object encoding, JSON decoding, output encoders."""
