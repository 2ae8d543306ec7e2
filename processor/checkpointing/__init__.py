"""What a transaction commits besides outputs: input offsets with the Redis generation they match."""
