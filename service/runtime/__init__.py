"""What keeps the service running: the loaded index version and its reloads (``state``), the
batched query encoder, sentence vectors for citation checks, heap settling, process start-up
and the index check before serving."""
