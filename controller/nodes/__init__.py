"""Node agents as the controller sees them: registration, heartbeats, health."""
