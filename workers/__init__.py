"""Workers: the broker, the actors, the platform clients, rate limits and retries."""
