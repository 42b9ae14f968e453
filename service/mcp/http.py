"""``/mcp``: the MCP server's streamable-HTTP transport, served by the service's own app.

The SDK's endpoint is a route of our app, not a separate server, so every middleware the app
has applies to it as to ``/v1/*``: API keys, rate limits, body limits, request ids, the access
log and the request metrics (labelled ``/mcp``). Its session manager must run while the app
does: ``create_app``'s lifespan enters ``sessions.run()``.

Stateless, with JSON responses: each POST is answered on its own, so replicas behind a load
balancer need no sticky sessions, and no connection stays open between tool calls. The tools
never call back into the client (no sampling or elicitation), so nothing needs a session.
"""

from typing import Any

from fastapi import FastAPI
from mcp.server.mcpserver import MCPServer
from mcp.server.streamable_http_manager import StreamableHTTPSessionManager
from mcp.server.transport_security import TransportSecuritySettings

from service.settings import Settings

MCP_PATH = "/mcp"


def mount_mcp(
    app: FastAPI, server: MCPServer[Any], settings: Settings
) -> StreamableHTTPSessionManager:
    """Add the server's ``/mcp`` route to ``app``; returns the session manager to run."""
    sdk_app = server.streamable_http_app(
        streamable_http_path=MCP_PATH,
        stateless_http=True,
        json_response=True,
        # Our body limit answers first; the SDK's own is set to the same bound.
        max_request_body_size=settings.limits.max_body_bytes,
        # Bound to a loopback address, the SDK refuses other Host and Origin headers (DNS
        # rebinding: a web page making a local browser call the local server)...
        host=settings.runtime.host,
        transport_security=_behind_proxies(settings),
    )
    app.router.routes.extend(sdk_app.routes)
    return server.session_manager


def _behind_proxies(settings: Settings) -> TransportSecuritySettings | None:
    """...unless trusted proxies are configured: then requests arrive through a reverse proxy
    that names the public host (nginx's ``proxy_set_header Host $host``), which a check for
    loopback names would refuse. None leaves the choice to the SDK."""
    if settings.security.trusted_proxies:
        return TransportSecuritySettings(enable_dns_rebinding_protection=False)
    return None
