"""CloudWatch alarms (filled in below)."""
