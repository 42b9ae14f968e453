"""The access and limits settings (``ABSTRACTQA_*``), validated where they are read."""

from __future__ import annotations

import ipaddress
import re
from typing import Annotated, Any, ClassVar

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import NoDecode

from indexer import SettingsGroup, group_config
from service.security.ratelimit import parse_rate

# With API keys configured (a shared deployment) these apply unless set otherwise.
DEFAULT_RATE_LIMIT_WITH_KEYS = "120/minute"
DEFAULT_STREAMS_WITH_KEYS = 4
_ORIGIN = re.compile(r"^https?://[^/\s,]+/?$")


class LimitsSettings(SettingsGroup):
    """Bounds on what one client can make the service hold (``service/security``)."""

    flat_prefix: ClassVar[str] = ""
    model_config = group_config(flat_prefix)

    rate_limit: str | None = Field(
        None,
        description="Requests per client (API key, or IP address without keys): N/second, "
        "N/minute, N/hour or N/day, or 'off'; over it: 429 with Retry-After. Unset: "
        f"{DEFAULT_RATE_LIMIT_WITH_KEYS} with API keys, off without.",
    )
    max_body_bytes: int = Field(
        1_048_576,
        ge=1024,
        le=1_073_741_824,
        description="Largest request body in bytes (413 beyond, also for chunked bodies).",
    )
    max_streams_per_client: int | None = Field(
        None,
        ge=1,
        le=100_000,
        description="Answers one client may stream at once (429 beyond). Unset: "
        f"{DEFAULT_STREAMS_WITH_KEYS} with API keys, no limit without.",
    )
    header_timeout_s: float = Field(
        10.0,
        gt=0,
        le=3600,
        description="A request's headers must arrive in full within this many seconds of the "
        "connection opening or of its first byte on a kept-alive connection (408 and closed "
        "beyond).",
    )
    body_timeout_s: float = Field(
        30.0,
        gt=0,
        le=3600,
        description="A request's body must arrive in full within this many seconds of its "
        "headers (408 and closed beyond).",
    )
    keep_alive_timeout_s: float = Field(
        5.0,
        gt=0,
        le=3600,
        description="An idle kept-alive connection is closed after this many seconds.",
    )
    max_connections_per_client: int = Field(
        32,
        ge=1,
        le=100_000,
        description="Connections one client IP address may hold open at once (trusted "
        "proxies excepted); one more is answered 429 and closed.",
    )

    @field_validator("rate_limit")
    @classmethod
    def _rate(cls, value: str | None) -> str | None:
        if value is None:
            return None
        rate = parse_rate(value)  # a ValueError names the accepted forms
        return "off" if rate is None else str(rate)


class SecuritySettings(SettingsGroup):
    """Who may call the API and from where (``service/security``)."""

    flat_prefix: ClassVar[str] = ""
    model_config = group_config(flat_prefix)

    # -- access and limits (service/security) ----------------------------------------------------
    api_keys: Annotated[list[SecretStr], NoDecode] = Field(
        default_factory=list,
        description="Comma-separated bearer tokens; when set, every /v1/* endpoint (except "
        "/v1/admin/*) and /mcp need 'Authorization: Bearer <one of them>' (401 without, 403 "
        "with another). Unset: the API is open (local use). Compared in constant time, never "
        "logged.",
    )
    admin_key: SecretStr | None = Field(
        None,
        description="Bearer token of the admin endpoints (/v1/admin/*: reload, add and remove "
        "papers); unset turns them off (404 admin_disabled). Compared in constant time, never "
        "logged.",
    )
    auth_failure_rate_limit: str = Field(
        "30/minute",
        description="Requests with a missing or wrong API key per client IP address (the same "
        "forms as rate_limit); beyond it 429, and keys are not even checked, so keys cannot be "
        "guessed at speed. Only applies with api_keys set.",
    )
    admin_rate_limit: str = Field(
        "60/minute",
        description="Requests to /v1/admin/* per client IP address, whatever their key (the "
        "same forms as rate_limit); beyond it 429.",
    )
    trusted_proxies: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Comma-separated addresses or networks (10.0.0.5, 10.0.0.0/8) of reverse "
        "proxies whose X-Forwarded-For and X-Forwarded-Proto are believed, and which the "
        "per-client connection cap does not count; unset: those headers are ignored and every "
        "client is its TCP peer.",
    )
    cors_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Comma-separated origins (scheme://host[:port]) whose pages may call the "
        "API from a browser, or '*'; unset: no CORS headers, same-origin only.",
    )

    @field_validator("api_keys", "cors_origins", "trusted_proxies", mode="before")
    @classmethod
    def _comma_separated(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("auth_failure_rate_limit", "admin_rate_limit")
    @classmethod
    def _ip_rate(cls, value: str) -> str:
        rate = parse_rate(value)
        return "off" if rate is None else str(rate)

    @field_validator("trusted_proxies")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        bad = []
        for entry in value:
            try:
                ipaddress.ip_network(entry, strict=False)
            except ValueError:
                bad.append(entry)
        if bad:
            raise ValueError(
                f"{', '.join(map(repr, bad))}: a trusted proxy is an IP address or network "
                "(10.0.0.5, 10.0.0.0/8, ::1)"
            )
        return value

    @field_validator("cors_origins")
    @classmethod
    def _origins(cls, value: list[str]) -> list[str]:
        bad = [origin for origin in value if origin != "*" and not _ORIGIN.match(origin)]
        if bad:
            raise ValueError(
                f"{', '.join(map(repr, bad))}: an origin is scheme://host[:port] with no path "
                "(e.g. https://example.org), or '*'"
            )
        return [origin.rstrip("/") for origin in value]
