"""Bounds on connections, below the ASGI app (which only sees a request once its headers are
complete): how long a client may take to send a request's headers, and how many connections one
client address may hold open. The rest comes from uvicorn's own settings (``uvicorn_options``):
the keep-alive timeout, h11's 16 KiB limit on a request's headers, and which proxies'
``X-Forwarded-For`` is believed.

Without these, a client that opens connections and sends a request's first bytes (or its headers
and then nothing) held each connection, and its slot in the event loop, for as long as it liked.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
from collections.abc import Callable
from typing import Any

from uvicorn.protocols.http.h11_impl import H11Protocol

from service.errors import RequestTimeoutError, ServiceError, TooManyConnectionsError
from service.settings import Settings

_REASONS = {408: "Request Timeout", 429: "Too Many Requests"}


def raw_error_response(error: ServiceError) -> bytes:
    """``error`` as a complete HTTP/1.1 response that closes the connection, for answers given
    where no request (and so no ASGI response) exists yet."""
    body = json.dumps({"error": {"code": error.code, "message": error.message}}).encode()
    head = (
        f"HTTP/1.1 {error.status} {_REASONS[error.status]}\r\n"
        "content-type: application/json\r\n"
        f"content-length: {len(body)}\r\n"
        "connection: close\r\n\r\n"
    )
    return head.encode("ascii") + body


def address_matcher(networks: list[str]) -> Callable[[str], bool]:
    """A predicate: is this address inside one of ``networks`` (addresses or CIDR networks)?"""
    parsed = [ipaddress.ip_network(n, strict=False) for n in networks]

    def matches(address: str) -> bool:
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(ip in network for network in parsed)

    return matches


def guarded_protocol(
    header_timeout_s: float, max_per_client: int, exempt: Callable[[str], bool]
) -> type[H11Protocol]:
    """uvicorn's h11 protocol with a header timeout and a per-address connection cap. Each
    call makes a new class with its own connection counts: one per server."""
    open_by_client: dict[str, int] = {}
    too_many = raw_error_response(
        TooManyConnectionsError(
            f"this client already has {max_per_client} connections open (setting "
            "max_connections_per_client): reuse or close one"
        )
    )
    too_slow = raw_error_response(
        RequestTimeoutError(
            f"the request's headers did not arrive within {header_timeout_s:g} s (setting "
            "header_timeout_s)"
        )
    )

    class GuardedH11Protocol(H11Protocol):
        _counted: str | None = None
        _header_timer: asyncio.TimerHandle | None = None
        _armed_during: Any = None  # the request cycle current when the timer was armed

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            host = self.client[0] if self.client else None
            if host is not None and not exempt(host):
                if open_by_client.get(host, 0) >= max_per_client:
                    transport.write(too_many)
                    transport.close()
                    return
                open_by_client[host] = open_by_client.get(host, 0) + 1
                self._counted = host
            self._arm()

        def data_received(self, data: bytes) -> None:
            # The first bytes of a next request on a kept-alive connection start its clock.
            if self._header_timer is None and (self.cycle is None or self.cycle.response_complete):
                self._arm()
            super().data_received(data)
            if self._header_timer is not None and self.cycle is not self._armed_during:
                self._disarm()  # a new request cycle: its headers are complete

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm()
            if self._counted is not None:
                left = open_by_client.get(self._counted, 1) - 1
                if left > 0:
                    open_by_client[self._counted] = left
                else:
                    open_by_client.pop(self._counted, None)
                self._counted = None
            super().connection_lost(exc)

        def _arm(self) -> None:
            self._armed_during = self.cycle
            self._header_timer = self.loop.call_later(header_timeout_s, self._headers_too_slow)

        def _disarm(self) -> None:
            if self._header_timer is not None:
                self._header_timer.cancel()
                self._header_timer = None

        def _headers_too_slow(self) -> None:
            self._header_timer = None
            if self.transport.is_closing():
                return
            if self.cycle is self._armed_during:  # still no new request: answer and close
                self.transport.write(too_slow)
                self.transport.close()

    return GuardedH11Protocol


def uvicorn_options(settings: Settings) -> dict[str, Any]:
    """Keyword arguments of ``uvicorn.run`` / ``uvicorn.Config`` that apply these settings."""
    trusted = settings.security.trusted_proxies
    return {
        "http": guarded_protocol(
            settings.limits.header_timeout_s,
            settings.limits.max_connections_per_client,
            address_matcher(trusted),
        ),
        "timeout_keep_alive": settings.limits.keep_alive_timeout_s,
        # Off unless proxies are named: uvicorn would otherwise believe X-Forwarded-For from
        # any loopback peer (its default), letting local clients pick their address.
        "proxy_headers": bool(trusted),
        "forwarded_allow_ips": trusted or [],
    }
