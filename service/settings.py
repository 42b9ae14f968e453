"""The service's settings by concern, read from the environment (prefix ``ABSTRACTQA_``).

``Settings`` holds the indexer's groups (index, embedding, chunking, feedback) and the
service's (runtime, observability, query encoder, retrieval, answering, llm, chat, limits,
security). Every variable keeps its flat name (``ABSTRACTQA_LLM_MODEL`` is ``llm.model``;
``indexer/settings_groups.py``), and ``Settings(llm_model=...)`` sets it by that name too.
"""

from __future__ import annotations

import json
from typing import Annotated, Any, ClassVar, Literal

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import NoDecode

from indexer import IndexerSettings, SettingsGroup, all_groups, flat_env_name, group_config
from service.runtime.settings import (
    ObservabilitySettings,
    QueryEncoderSettings,
    RuntimeSettings,
)
from service.security.ratelimit import Rate, parse_rate
from service.security.settings import (
    DEFAULT_RATE_LIMIT_WITH_KEYS,
    DEFAULT_STREAMS_WITH_KEYS,
    LimitsSettings,
    SecuritySettings,
)

BackendName = Literal["extractive", "openai", "llama-index"]
SnippetScoring = Literal["auto", "dense", "lexical"]


class RetrievalSettings(SettingsGroup):
    """How many papers searches and answers retrieve by default."""

    flat_prefix: ClassVar[str] = ""
    model_config = group_config(flat_prefix)

    search_top_k: int = Field(10, ge=1, le=50, description="Default number of search results.")
    ask_top_k: int = Field(5, ge=1, le=20, description="Default number of papers an answer uses.")
    search_snippets: SnippetScoring = Field(
        "auto",
        description="How /v1/search picks each result's snippet sentences: dense (cosine to the "
        "query: embeds the sentences of papers not yet in the sentence cache), lexical (the "
        "IDF of the query terms each sentence holds, as Lucene's highlighter does: no model "
        "call) or auto (dense when the index fits the sentence cache, which is then warmed at "
        "start, else lexical).",
    )
    answer_sentences: SnippetScoring = Field(
        "auto",
        description="How /v1/ask and chat score each source's sentences against the question "
        "(what the extractive backend quotes, and the order in which sources' sentences fill "
        "an LLM's context): dense, lexical or auto, as search_snippets.",
    )


class AnsweringSettings(SettingsGroup):
    """How answers are made: the backend, abstention and citation checks."""

    flat_prefix: ClassVar[str] = ""
    model_config = group_config(flat_prefix)

    answer_backend: BackendName = Field(
        "extractive",
        description="Default answer backend: extractive (no LLM), openai (any OpenAI-compatible "
        "chat API) or llama-index (any llama-index LLM: llama_index_llm_class).",
    )
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


class LLMSettings(SettingsGroup):
    """The OpenAI-compatible chat API LLM backends call (``ABSTRACTQA_LLM_*``)."""

    flat_prefix: ClassVar[str] = "llm_"
    model_config = group_config(flat_prefix)

    base_url: str = Field(
        "http://127.0.0.1:11434/v1",
        description="Base URL of an OpenAI-compatible chat completions API (OpenAI, vLLM, "
        "llama.cpp server, Ollama, LM Studio, LiteLLM).",
    )
    model: str = Field("llama3.1", description="Model name sent to the LLM API.")
    api_key: SecretStr | None = Field(None, description="Bearer token for the LLM API.")
    timeout_s: float = Field(
        60.0, gt=0, description="Longest wait for the LLM's next bytes (and its whole answer)."
    )
    connect_timeout_s: float = Field(5.0, gt=0, description="Connect timeout to the LLM.")
    max_retries: int = Field(2, ge=0, le=10, description="Retries before the first token.")
    backoff_s: float = Field(0.5, ge=0, description="Base of the exponential retry backoff.")
    temperature: float = Field(0.1, ge=0, le=2)
    max_tokens: int = Field(400, ge=16, le=8192, description="Answer length limit in tokens.")
    context_tokens: int = Field(
        3000, ge=256, le=200_000, description="Token budget of the sources packed into a prompt."
    )


class LlamaIndexSettings(SettingsGroup):
    """The llama-index answer backend's LLM (``ABSTRACTQA_LLAMA_INDEX_*``); the arguments its
    kwargs leave out come from the llm group."""

    flat_prefix: ClassVar[str] = "llama_index_"
    model_config = group_config(flat_prefix)

    llm_class: str = Field(
        "llama_index.llms.openai_like.OpenAILike",
        description="llama-index backend: the dotted path of a llama-index LLM class "
        "(llama_index.core.llms.LLM); checked at start-up when it is the default backend.",
    )
    llm_kwargs: Annotated[dict[str, Any], NoDecode] = Field(
        default_factory=dict,
        repr=False,  # may hold an api_key
        description="llama-index backend: a JSON object of the LLM class's arguments; the ones "
        "it leaves out and the class has are taken from the llm_* settings (api_base, model, "
        "api_key, timeout, max_retries, temperature, max_tokens; is_chat_model=true).",
    )

    @field_validator("llm_kwargs", mode="before")
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


class ChatSettings(SettingsGroup):
    """/v1/chat/completions: how much of a conversation is used (``ABSTRACTQA_CHAT_*``)."""

    flat_prefix: ClassVar[str] = "chat_"
    model_config = group_config(flat_prefix)

    max_messages: int = Field(
        50,
        ge=1,
        le=10_000,
        description="/v1/chat/completions: most messages of a conversation used to understand "
        "the latest question; older ones are dropped.",
    )
    max_tokens: int = Field(
        8000,
        ge=16,
        le=1_000_000,
        description="/v1/chat/completions: most tiktoken tokens of a conversation used; older "
        "messages are dropped, and a latest user message longer than this is refused.",
    )
    max_request_messages: int = Field(
        1000,
        ge=1,
        le=100_000,
        description="/v1/chat/completions: most messages a request may carry (400 beyond); of "
        "these, chat_max_messages are used.",
    )


class Settings(IndexerSettings):
    """Everything the service reads from the environment, with defaults for local use."""

    runtime: RuntimeSettings = Field(default_factory=RuntimeSettings)
    observability: ObservabilitySettings = Field(default_factory=ObservabilitySettings)
    query_encoder: QueryEncoderSettings = Field(default_factory=QueryEncoderSettings)
    retrieval: RetrievalSettings = Field(default_factory=RetrievalSettings)
    answering: AnsweringSettings = Field(default_factory=AnsweringSettings)
    llm: LLMSettings = Field(default_factory=LLMSettings)
    llama_index: LlamaIndexSettings = Field(default_factory=LlamaIndexSettings)
    chat: ChatSettings = Field(default_factory=ChatSettings)
    limits: LimitsSettings = Field(default_factory=LimitsSettings)
    security: SecuritySettings = Field(default_factory=SecuritySettings)

    def __init__(self, **values: Any) -> None:
        super().__init__(**values)
        if self.answering.answer_backend == "llama-index":
            self._check_llama_index_llm()

    def _check_llama_index_llm(self) -> None:
        # Only when it is the default backend: importing llama-index costs seconds at start-up.
        # A request naming the backend otherwise gets the same message as a backend error.
        from service.backends.llama_index import LLMArguments, load_llm_class

        try:
            LLMArguments.from_settings(self).build(load_llm_class(self.llama_index.llm_class))
        except ValueError as exc:
            raise ValidationError.from_exception_data(
                LlamaIndexSettings.__name__,
                [
                    {
                        "type": "value_error",
                        "loc": ("llm_class",),
                        "input": self.llama_index.llm_class,
                        "ctx": {"error": exc},
                    }
                ],
            ) from None

    def abstain_threshold(self, scoped: bool) -> float:
        """The answerability an answer needs: lower when the request names its papers."""
        answering = self.answering
        return answering.abstain_min_score_scoped if scoped else answering.abstain_min_score

    @property
    def effective_rate_limit(self) -> Rate | None:
        """The rate limit in force: the setting, else the default of the access mode."""
        if self.limits.rate_limit is not None:
            return parse_rate(self.limits.rate_limit)
        return parse_rate(DEFAULT_RATE_LIMIT_WITH_KEYS) if self.security.api_keys else None

    @property
    def effective_max_streams(self) -> int | None:
        if self.limits.max_streams_per_client is not None:
            return self.limits.max_streams_per_client
        return DEFAULT_STREAMS_WITH_KEYS if self.security.api_keys else None


def invalid_settings(exc: ValidationError) -> str:
    """One line per invalid setting, named by its environment variable; the values themselves
    are left out (one may be a key)."""
    lines = []
    groups = all_groups(Settings)
    for error in exc.errors():
        name = flat_env_name(exc.title, tuple(error.get("loc", ())), groups)
        message = str(error.get("msg", "invalid")).removeprefix("Value error, ")
        lines.append(f"error: invalid setting {name}: {message}")
    return "\n".join(lines)
