"""What happens in production: demand (Little's law for users), and, as it grows, queueing,
request-length mixes and serving simulation."""
