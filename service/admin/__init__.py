"""Admin endpoints: reload the index, add and remove papers (``/v1/admin/*``)."""
