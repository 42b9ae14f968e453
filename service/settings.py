"""The service's one settings object, read from the environment (prefix ``ABSTRACTQA_``)."""

from __future__ import annotations

import ipaddress
import json
import re
from typing import Annotated, Any, Literal

from pydantic import Field, SecretStr, ValidationError, ValidationInfo, field_validator
from pydantic_settings import NoDecode

from indexer import IndexerSettings
from service.security.ratelimit import Rate, parse_rate

BackendName = Literal["extractive", "openai", "llama-index"]
LogFormat = Literal["auto", "json", "text"]
LogLevel = Literal["debug", "info", "warning", "error"]


# With API keys configured (a shared deployment) these apply unless set otherwise.
DEFAULT_RATE_LIMIT_WITH_KEYS = "120/minute"
DEFAULT_STREAMS_WITH_KEYS = 4
_ORIGIN = re.compile(r"^https?://[^/\s,]+/?$")


class Settings(IndexerSettings):
    """Everything the service reads from the environment, with defaults for local use."""

    host: str = Field("127.0.0.1", description="Interface `abstractqa serve` binds to.")
    port: int = Field(8000, ge=0, le=65535, description="Port `abstractqa serve` listens on.")
    log_format: LogFormat = Field(
        "auto",
        description="`abstractqa serve` log lines: json (one object per line), text, or auto "
        "(text when stderr is a terminal, json otherwise).",
    )
    log_level: LogLevel = Field("info", description="Least severe level `abstractqa serve` logs.")

    answer_backend: BackendName = Field(
        "extractive",
        description="Default answer backend: extractive (no LLM), openai (any OpenAI-compatible "
        "chat API) or llama-index (any llama-index LLM: llama_index_llm_class).",
    )
    llm_base_url: str = Field(
        "http://127.0.0.1:11434/v1",
        description="Base URL of an OpenAI-compatible chat completions API (OpenAI, vLLM, "
        "llama.cpp server, Ollama, LM Studio, LiteLLM).",
    )
    llm_model: str = Field("llama3.1", description="Model name sent to the LLM API.")
    llm_api_key: SecretStr | None = Field(None, description="Bearer token for the LLM API.")
    llm_timeout_s: float = Field(
        60.0, gt=0, description="Longest wait for the LLM's next bytes (and its whole answer)."
    )
    llm_connect_timeout_s: float = Field(5.0, gt=0, description="Connect timeout to the LLM.")
    llm_max_retries: int = Field(2, ge=0, le=10, description="Retries before the first token.")
    llm_backoff_s: float = Field(0.5, ge=0, description="Base of the exponential retry backoff.")
    llm_temperature: float = Field(0.1, ge=0, le=2)
    llm_max_tokens: int = Field(400, ge=16, le=8192, description="Answer length limit in tokens.")
    llm_context_tokens: int = Field(
        3000, ge=256, le=200_000, description="Token budget of the sources packed into a prompt."
    )
    # The kwargs come before the class so that the class's check can build the LLM with them.
    llama_index_llm_kwargs: Annotated[dict[str, Any], NoDecode] = Field(
        default_factory=dict,
        repr=False,  # may hold an api_key
        description="llama-index backend: a JSON object of the LLM class's arguments; the ones "
        "it leaves out and the class has are taken from the llm_* settings (api_base, model, "
        "api_key, timeout, max_retries, temperature, max_tokens; is_chat_model=true).",
    )
    llama_index_llm_class: str = Field(
        "llama_index.llms.openai_like.OpenAILike",
        validate_default=True,
        description="llama-index backend: the dotted path of a llama-index LLM class "
        "(llama_index.core.llms.LLM); checked at start-up when it is the default backend.",
    )

    search_top_k: int = Field(10, ge=1, le=50, description="Default number of search results.")
    ask_top_k: int = Field(5, ge=1, le=20, description="Default number of papers an answer uses.")
    answer_max_sentences: int = Field(4, ge=1, le=20, description="Longest answer in sentences.")
    abstain_min_score: float = Field(
        0.948,
        ge=-1,
        le=3,
        description="Abstain when no retrieved paper's answerability (dense cosine + "
        "coverage_weight x IDF-weighted share of the question's terms it contains) reaches "
        "this; chosen with the weight by cross-validation on the development question set "
        "(benchmarks/cv_abstention.py).",
    )
    abstain_coverage_weight: float = Field(1.25, ge=0, le=2, description="See abstain_min_score.")
    abstain_min_score_scoped: float = Field(
        0.0,
        ge=-1,
        le=3,
        description="The abstention threshold when the request names its papers (paper_ids): "
        "questions about a chosen paper ('what does it propose?') share few words with it, so "
        "only a question with no relation at all abstains.",
    )
    support_min_similarity: float = Field(
        0.525,
        ge=-1,
        le=1,
        description="An answer sentence is supported when a sentence of a paper it cites is at "
        "least this similar (cosine); tuned on the development set.",
    )
    max_question_chars: int = Field(2000, ge=10, le=100_000, description="Longest question.")
    chat_max_messages: int = Field(
        50,
        ge=1,
        le=10_000,
        description="/v1/chat/completions: most messages of a conversation used to understand "
        "the latest question; older ones are dropped.",
    )
    chat_max_tokens: int = Field(
        8000,
        ge=16,
        le=1_000_000,
        description="/v1/chat/completions: most tiktoken tokens of a conversation used; older "
        "messages are dropped, and a latest user message longer than this is refused.",
    )
    chat_max_request_messages: int = Field(
        1000,
        ge=1,
        le=100_000,
        description="/v1/chat/completions: most messages a request may carry (400 beyond); of "
        "these, chat_max_messages are used.",
    )
    query_batch_wait_ms: float = Field(
        4.0,
        ge=0,
        le=1000,
        description="How long the query encoder waits for other requests' queries to join a "
        "batch once one arrives, while other queries are queued or being encoded (a lone query "
        "never waits; queries that arrive while a batch is encoded always join the next one); "
        "0 encodes at once whatever is queued.",
    )
    query_batch_max: int = Field(
        8,
        ge=1,
        le=1024,
        description="Most queries one query encoder worker takes at once; small enough that "
        "concurrent queries spread over the workers instead of queueing behind one.",
    )
    query_cache_size: int = Field(
        1024,
        ge=0,
        le=1_000_000,
        description="Query vectors kept for repeated queries (least recently used dropped "
        "first); 0 disables the cache.",
    )
    query_encoder_workers: int = Field(
        0,
        ge=0,
        le=64,
        description="Threads that encode query batches at once, sharing the model; 0: one per "
        "CPU core.",
    )
    torch_threads: int = Field(
        1,
        ge=0,
        le=256,
        description="`abstractqa serve`: torch's intra-op threads (OMP_NUM_THREADS, unless that "
        "is set); 0: torch's default, one per core. With one query encoder worker per core, "
        "1 is fastest and does not slow down many times over when other processes share the "
        "cores (docs/benchmarks.md).",
    )
    sentence_cache_papers: int = Field(
        50_000,
        ge=1,
        description="Papers whose sentence vectors (for citation checks) are kept, least "
        "recently used dropped first; an index of at most this many papers is warmed in the "
        "background after start-up, a larger one embeds sentences when an answer needs them.",
    )
    gc_freeze: bool = Field(
        True,
        description="Once an index version is loaded and warm, collect garbage once and exempt "
        "what survived from later full collections (gc.freeze): removes ~0.2 s GIL stalls "
        "from the tail latency (service/heap.py).",
    )
    admin_key: SecretStr | None = Field(
        None,
        description="Bearer token of the admin endpoints (/v1/admin/*: reload, add and remove "
        "papers); unset turns them off (404 admin_disabled). Compared in constant time, never "
        "logged.",
    )
    watch_index: bool = Field(
        False,
        description="Poll the index's CURRENT pointer and reload when another process (e.g. "
        "`abstractqa index add`) makes a new version current.",
    )
    watch_interval_s: float = Field(
        2.0, gt=0, le=3600, description="How often the index pointer is polled (watch_index)."
    )

    # -- access and limits (service/security) ----------------------------------------------------
    api_keys: Annotated[list[SecretStr], NoDecode] = Field(
        default_factory=list,
        description="Comma-separated bearer tokens; when set, every /v1/* endpoint (except "
        "/v1/admin/*) needs 'Authorization: Bearer <one of them>' (401 without, 403 with "
        "another). Unset: the API is open (local use). Compared in constant time, never logged.",
    )
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

    @field_validator("llama_index_llm_kwargs", mode="before")
    @classmethod
    def _json_object(cls, value: Any) -> Any:
        if isinstance(value, str):
            try:
                value = json.loads(value)
            except ValueError as exc:
                raise ValueError(f"not JSON: {exc}") from None
            if not isinstance(value, dict):
                raise ValueError("must be a JSON object of the LLM class's arguments")
        return value

    @field_validator("llama_index_llm_class")
    @classmethod
    def _llm_class(cls, value: str, info: ValidationInfo) -> str:
        # Only when it is the default backend: importing llama-index costs seconds at start-up.
        # A request naming the backend otherwise gets the same message as a backend error.
        if info.data.get("answer_backend") == "llama-index":
            from service.backends.llama_index import LLMArguments, load_llm_class

            llm_class = load_llm_class(value)
            LLMArguments.from_values(info.data).build(llm_class)
        return value

    @field_validator("rate_limit")
    @classmethod
    def _rate(cls, value: str | None) -> str | None:
        if value is None:
            return None
        rate = parse_rate(value)  # a ValueError names the accepted forms
        return "off" if rate is None else str(rate)

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

    def abstain_threshold(self, scoped: bool) -> float:
        """The answerability an answer needs: lower when the request names its papers."""
        return self.abstain_min_score_scoped if scoped else self.abstain_min_score

    @property
    def effective_rate_limit(self) -> Rate | None:
        """The rate limit in force: the setting, else the default of the access mode."""
        if self.rate_limit is not None:
            return parse_rate(self.rate_limit)
        return parse_rate(DEFAULT_RATE_LIMIT_WITH_KEYS) if self.api_keys else None

    @property
    def effective_max_streams(self) -> int | None:
        if self.max_streams_per_client is not None:
            return self.max_streams_per_client
        return DEFAULT_STREAMS_WITH_KEYS if self.api_keys else None


def invalid_settings(exc: ValidationError) -> str:
    """One line per invalid setting, named by its environment variable; the values themselves
    are left out (one may be a key)."""
    lines = []
    for error in exc.errors():
        name = str(error["loc"][0]) if error.get("loc") else "settings"
        message = str(error.get("msg", "invalid")).removeprefix("Value error, ")
        lines.append(f"error: invalid setting ABSTRACTQA_{name.upper()}: {message}")
    return "\n".join(lines)
