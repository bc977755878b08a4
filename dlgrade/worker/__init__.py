"""The worker: a separate process that runs student code and answers plain-data requests."""
