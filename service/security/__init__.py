"""Access control and limits: optional API keys, a per-client rate limit, bounds on request
bodies and concurrent streams, CORS for configured origins, and security headers
(``service.security.install.install`` puts them on the app)."""
