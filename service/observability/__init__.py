"""Operations: Prometheus metrics (``/metrics``), request ids, structured logs."""
