"""CloudWatch (service ``monitoring``): metrics, statistics, metric math and alarms."""
