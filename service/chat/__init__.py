"""The OpenAI-compatible chat endpoint: ``POST /v1/chat/completions`` and ``GET /v1/models``."""
