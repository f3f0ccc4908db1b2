"""The instance metadata service (169.254.169.254 as guests see it)."""
