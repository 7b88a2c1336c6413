"""Operations: health and readiness endpoints and Prometheus metrics for `run`."""
