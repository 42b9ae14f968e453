"""The web chat page served at ``/`` and its static assets (``service/static``)."""
