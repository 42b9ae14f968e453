"""The MCP server: search, ask and papers as Model Context Protocol tools and resources, over
stdio (``abstractqa mcp``) and streamable HTTP (``/mcp`` in the service)."""
