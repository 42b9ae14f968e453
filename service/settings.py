"""The service's one settings object, read from the environment (prefix ``ABSTRACTQA_``)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, SecretStr

from indexer.config import IndexerSettings

BackendName = Literal["extractive", "openai"]
LogFormat = Literal["auto", "json", "text"]
LogLevel = Literal["debug", "info", "warning", "error"]


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
        "extractive", description="Default answer backend: extractive (no LLM) or openai."
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

    search_top_k: int = Field(10, ge=1, le=50, description="Default number of search results.")
    ask_top_k: int = Field(5, ge=1, le=20, description="Default number of papers an answer uses.")
    answer_max_sentences: int = Field(4, ge=1, le=20, description="Longest answer in sentences.")
    abstain_min_score: float = Field(
        0.635,
        ge=-1,
        le=3,
        description="Abstain when no retrieved paper's answerability (dense cosine + "
        "coverage_weight x IDF-weighted share of the question's terms it contains) reaches "
        "this; tuned on the development question set (docs/benchmarks.md).",
    )
    abstain_coverage_weight: float = Field(0.7, ge=0, le=2, description="See abstain_min_score.")
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
