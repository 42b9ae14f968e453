"""The per-client rate limit (``ABSTRACTQA_RATE_LIMIT``): a token bucket per API key, or per IP
address on an open service; 429 with ``Retry-After`` beyond it; a clear error at start-up for a
malformed rate."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from indexer.embedders.base import Embedder
from service.app import create_app
from service.security.connections import uvicorn_options
from service.security.ratelimit import Rate, RateLimiter, parse_rate, retry_after
from service.settings import Settings
from tests.service.conftest import ready_server
from tests.service.security.conftest import KEYS, bearer

LIMIT = 3


@pytest.fixture(scope="module")
def limited_url(corpus_index_dir: Path, embedder: Embedder) -> Iterator[str]:
    settings = Settings(
        index_dir=corpus_index_dir,
        api_keys=",".join(KEYS),  # type: ignore[arg-type]
        rate_limit=f"{LIMIT}/hour",
    )
    with ready_server(create_app(settings, embedder=embedder), "abstractqa-limited") as url:
        yield url


@pytest.fixture(scope="module")
def open_limited_url(corpus_index_dir: Path, embedder: Embedder) -> Iterator[str]:
    settings = Settings(index_dir=corpus_index_dir, rate_limit=f"{LIMIT}/hour")
    with ready_server(create_app(settings, embedder=embedder), "abstractqa-ip-limited") as url:
        yield url


def test_requests_past_the_limit_are_429_with_retry_after(limited_url: str) -> None:
    with httpx.Client(base_url=limited_url, headers=bearer(KEYS[0])) as client:
        answered = [client.get("/v1/models").status_code for _ in range(LIMIT)]
        refused = client.post("/v1/search", json={"query": "sparse fine-tuning"})
    assert answered == [200] * LIMIT
    assert refused.status_code == 429
    # One token comes back every 20 minutes at 3/hour.
    assert 1 <= int(refused.headers["retry-after"]) <= 1200
    error = refused.json()["error"]
    assert error["code"] == "rate_limited"
    assert "3/hour" in error["message"] and "rate_limit" in error["message"]


def test_each_key_has_its_own_allowance(limited_url: str) -> None:
    with httpx.Client(base_url=limited_url, headers=bearer(KEYS[1])) as client:
        statuses = [client.get("/v1/models").status_code for _ in range(LIMIT + 1)]
    assert statuses == [200] * LIMIT + [429]
    with httpx.Client(base_url=limited_url, headers=bearer(KEYS[2])) as client:
        assert client.get("/v1/models").status_code == 200


def test_probes_are_never_limited_and_a_wrong_key_is_refused_before_any_limit(
    limited_url: str,
) -> None:
    for _ in range(LIMIT + 2):
        assert httpx.get(f"{limited_url}/healthz").status_code == 200
        assert httpx.get(f"{limited_url}/v1/models", headers=bearer("nope")).status_code == 403


def test_without_keys_each_ip_address_has_its_own_allowance(open_limited_url: str) -> None:
    # Linux routes all of 127.0.0.0/8 to loopback: two source addresses, two clients.
    transports = [httpx.HTTPTransport(local_address=a) for a in ("127.0.0.1", "127.0.0.2")]
    with httpx.Client(base_url=open_limited_url, transport=transports[0]) as first:
        statuses = [first.get("/v1/models").status_code for _ in range(LIMIT + 1)]
    with httpx.Client(base_url=open_limited_url, transport=transports[1]) as second:
        other = second.get("/v1/models").status_code
    assert statuses == [200] * LIMIT + [429]
    assert other == 200


def test_the_limit_is_off_on_an_open_service_unless_set_and_on_by_default_with_keys() -> None:
    assert Settings().effective_rate_limit is None
    assert Settings(api_keys="k").effective_rate_limit == Rate(120, "minute")  # type: ignore[arg-type]
    assert Settings(api_keys="k", rate_limit="off").effective_rate_limit is None  # type: ignore[arg-type]
    assert Settings(rate_limit="20/second").effective_rate_limit == Rate(20, "second")


# -- wrong keys, admin endpoints, forwarded addresses ---------------------------------------------


@contextmanager
def served(corpus_index_dir: Path, embedder: Embedder, **overrides: Any) -> Iterator[str]:
    """A server run with the uvicorn options ``abstractqa serve`` uses."""
    settings = Settings(index_dir=corpus_index_dir, **overrides)
    app = create_app(settings, embedder=embedder)
    with ready_server(app, "abstractqa-guarded", **uvicorn_options(settings)) as url:
        yield url


def client_from(url: str, address: str, **kwargs: Any) -> httpx.Client:
    transport = httpx.HTTPTransport(local_address=address)
    return httpx.Client(base_url=url, transport=transport, **kwargs)


def test_wrong_keys_are_limited_per_address_and_past_the_limit_no_key_is_checked(
    corpus_index_dir: Path, embedder: Embedder
) -> None:
    with served(
        corpus_index_dir,
        embedder,
        api_keys=",".join(KEYS),  # type: ignore[arg-type]
        rate_limit="off",
        auth_failure_rate_limit=f"{LIMIT}/hour",
    ) as url:
        with client_from(url, "127.0.0.1") as guesser:
            guesses = [
                guesser.get("/v1/models", headers=bearer(f"guess-{n}")).status_code
                for n in range(LIMIT)
            ]
            assert guesser.get("/v1/models").status_code == 429  # no key at all counts too
            # Past the limit even the right key gets no answer about itself.
            refused = guesser.get("/v1/models", headers=bearer(KEYS[0]))
        with client_from(url, "127.0.0.2", headers=bearer(KEYS[0])) as other:
            assert other.get("/v1/models").status_code == 200
    assert guesses == [403] * LIMIT
    assert refused.status_code == 429
    assert 1 <= int(refused.headers["retry-after"]) <= 1200
    assert "auth_failure_rate_limit" in refused.json()["error"]["message"]


def test_admin_endpoints_are_limited_per_address_whatever_the_key(
    corpus_index_dir: Path, embedder: Embedder
) -> None:
    admin_key = "admin-key-rate-test-93b1"
    with served(
        corpus_index_dir, embedder, admin_key=admin_key, admin_rate_limit=f"{LIMIT}/hour"
    ) as url:
        with client_from(url, "127.0.0.1") as admin:
            answers = [
                admin.post("/v1/admin/reload", headers=bearer(key)).status_code
                for key in ("wrong", admin_key, "wrong")
            ]
            refused = admin.post("/v1/admin/reload", headers=bearer(admin_key))
            assert admin.get("/v1/models").status_code == 200  # the API is not affected
        with client_from(url, "127.0.0.2", headers=bearer(admin_key)) as other:
            assert other.post("/v1/admin/reload").status_code == 200
    assert answers == [403, 200, 403]
    assert refused.status_code == 429
    assert "admin_rate_limit" in refused.json()["error"]["message"]


def test_x_forwarded_for_is_ignored_unless_the_peer_is_a_trusted_proxy(
    corpus_index_dir: Path, embedder: Embedder
) -> None:
    def statuses(url: str) -> list[int]:
        with client_from(url, "127.0.0.1") as client:
            return [
                client.get("/v1/models", headers={"X-Forwarded-For": f"203.0.113.{n}"}).status_code
                for n in range(LIMIT + 1)
            ]

    with served(corpus_index_dir, embedder, rate_limit=f"{LIMIT}/hour") as url:
        untrusted = statuses(url)
    with served(
        corpus_index_dir,
        embedder,
        rate_limit=f"{LIMIT}/hour",
        trusted_proxies="127.0.0.1",  # type: ignore[arg-type]
    ) as url:
        trusted = statuses(url)
    assert untrusted == [200] * LIMIT + [429]  # one client: the peer, whatever the header says
    assert trusted == [200] * (LIMIT + 1)  # each forwarded address is its own client


def test_a_trusted_proxy_that_is_not_an_address_stops_the_server_at_start_up() -> None:
    with pytest.raises(ValueError, match="a trusted proxy is an IP address or network"):
        Settings(trusted_proxies="proxy.example")  # type: ignore[arg-type]
    assert Settings(trusted_proxies="10.0.0.0/8, ::1").security.trusted_proxies == [
        "10.0.0.0/8",
        "::1",
    ]  # type: ignore[arg-type]


# -- the rate and the bucket ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "rate"),
    [
        ("60/minute", Rate(60, "minute")),
        ("20/second", Rate(20, "second")),
        (" 5 / Hour ", Rate(5, "hour")),
        ("1000/day", Rate(1000, "day")),
        ("10/s", Rate(10, "second")),
        ("10/min", Rate(10, "minute")),
        ("10/minutes", Rate(10, "minute")),
        ("off", None),
        ("OFF", None),
    ],
)
def test_a_rate_is_read_from_its_text(text: str, rate: Rate | None) -> None:
    assert parse_rate(text) == rate


@pytest.mark.parametrize("text", ["60", "60/fortnight", "0/minute", "-1/second", "x/minute", ""])
def test_a_malformed_rate_is_refused_naming_the_accepted_forms(text: str) -> None:
    with pytest.raises(ValueError, match=r"use N/second, N/minute, N/hour or N/day"):
        parse_rate(text)


def test_a_malformed_rate_stops_the_server_at_start_up_with_a_clear_message(
    tmp_path: Path,
) -> None:
    env = {
        **os.environ,
        "ABSTRACTQA_RATE_LIMIT": "60/fortnight",
        "ABSTRACTQA_INDEX_DIR": str(tmp_path),
    }
    result = subprocess.run(
        [sys.executable, "-m", "service.cli", "serve"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "error: invalid setting ABSTRACTQA_RATE_LIMIT: '60/fortnight' is not a rate: use "
        "N/second, N/minute, N/hour or N/day with N >= 1 (e.g. 60/minute), or 'off'"
    )


class Clock:
    """A hand-moved clock, so that refills are tested without sleeping."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_the_bucket_allows_a_burst_then_refills_at_the_rate() -> None:
    clock = Clock()
    limiter = RateLimiter(Rate(3, "minute"), clock=clock)
    assert [limiter.take("a") for _ in range(3)] == [0.0, 0.0, 0.0]
    assert limiter.take("a") == pytest.approx(20.0)  # one token per 20 s
    clock.now += 15
    assert limiter.take("a") == pytest.approx(5.0)
    clock.now += 5
    assert limiter.take("a") == 0.0
    assert retry_after(0.2) == 1 and retry_after(20.0) == 20 and retry_after(20.01) == 21


def test_idle_clients_are_forgotten_and_memory_stays_bounded() -> None:
    clock = Clock()
    limiter = RateLimiter(Rate(2, "second"), max_clients=100, clock=clock)
    for n in range(50):
        limiter.take(f"client-{n}")
    assert len(limiter) == 50
    clock.now += 1.0  # a whole period idle: every bucket is full again, like a new one
    limiter.take("late")
    assert len(limiter) == 1
    for n in range(500):
        limiter.take(f"crowd-{n}")
    assert len(limiter) == 100
