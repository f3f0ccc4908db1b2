"""GetMetricData."""
