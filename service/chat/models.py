"""Request and response models of the OpenAI-compatible ``/v1/chat/completions`` and
``/v1/models``: the subset of OpenAI's wire format the official SDK needs, plus one extra
top-level field, ``abstractqa``, with the structured answer (citations, sources, rewrite)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from service.ask.models import AskResponse

Role = Literal["system", "developer", "user", "assistant"]


class ContentPart(BaseModel):
    """One part of a list-form message content; only ``{"type": "text", "text": ...}`` is read."""

    model_config = ConfigDict(extra="allow")

    type: str = Field(..., description="Only 'text' parts are supported.")
    text: str | None = Field(None, description="The text of a 'text' part.")


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="allow")  # name, tool_calls, refusal...: accepted, unused

    role: Role = Field(..., description="'developer' is read as 'system'.")
    content: str | list[ContentPart] | None = Field(
        None, description="A string, or OpenAI's list of parts (text parts only)."
    )
    abstractqa: dict[str, Any] | None = Field(
        None,
        description="An assistant message may echo the `abstractqa` field of its response: its "
        "numbered sources then resolve references such as 'the second one'.",
    )

    @field_validator("content")
    @classmethod
    def _text_parts_only(
        cls, value: str | list[ContentPart] | None
    ) -> str | list[ContentPart] | None:
        if isinstance(value, list):
            other = [f"{i} ({p.type!r})" for i, p in enumerate(value) if p.type != "text"]
            if other:
                raise ValueError(
                    f"only text content parts are supported; part {', '.join(other)} is not text"
                )
            missing = [str(i) for i, p in enumerate(value) if p.text is None]
            if missing:
                raise ValueError(f"text part {', '.join(missing)} has no 'text'")
        return value

    @property
    def text(self) -> str:
        if self.content is None:
            return ""
        if isinstance(self.content, str):
            return self.content
        return "\n".join(part.text or "" for part in self.content)


class StreamOptions(BaseModel):
    model_config = ConfigDict(extra="allow")

    include_usage: bool = Field(
        False, description="End the stream with a chunk that has empty choices and the usage."
    )


class ChatCompletionRequest(BaseModel):
    """OpenAI's request body. Fields that do not apply here (temperature, max_tokens, top_p,
    stop, seed, user, tools, response_format, ...) are accepted and ignored."""

    model_config = ConfigDict(extra="allow")

    model: str = Field(..., description="abstractqa, abstractqa-extractive or abstractqa-llm.")
    messages: list[ChatMessage] = Field(
        ..., min_length=1, description="The conversation; the last message is the user's question."
    )
    stream: bool | None = Field(False, description="Answer as Server-Sent Events of chunks.")
    stream_options: StreamOptions | None = Field(
        None, description="With stream: include_usage ends the stream with a usage chunk."
    )
    n: int | None = Field(None, description="Only 1 choice is ever produced.")

    @field_validator("n")
    @classmethod
    def _one_choice(cls, value: int | None) -> int | None:
        if value is not None and value != 1:
            raise ValueError(f"only n=1 is supported, got {value}")
        return value

    @model_validator(mode="after")
    def _ends_with_a_question(self) -> ChatCompletionRequest:
        last = self.messages[-1]
        if last.role != "user":
            raise ValueError(f"the last message must be the user's, not the {last.role}'s")
        if not last.text.strip():
            raise ValueError("the last (user) message has no text")
        return self


# -- responses ---------------------------------------------------------------------------------


class ModelCard(BaseModel):
    id: str = Field(..., description="The model name to send as `model`.")
    object: Literal["model"] = Field("model", description="Always 'model'.")
    created: int = Field(..., description="Unix time the service started.")
    owned_by: str = Field("abstractqa", description="Always 'abstractqa'.")
    description: str = Field("", description="The answer backend this model name selects.")


class ModelList(BaseModel):
    object: Literal["list"] = Field("list", description="Always 'list'.")
    data: list[ModelCard] = Field(..., description="The model names this service answers to.")


class AssistantMessage(BaseModel):
    role: Literal["assistant"] = Field("assistant", description="Always 'assistant'.")
    content: str = Field(
        ..., description="The answer with [n] markers, then a 'Sources:' list of the cited papers."
    )


class Choice(BaseModel):
    index: int = Field(0, description="Always 0: one choice.")
    message: AssistantMessage = Field(..., description="The answer.")
    logprobs: None = Field(None, description="Always null.")
    finish_reason: Literal["stop"] = Field("stop", description="Always 'stop'.")


class Usage(BaseModel):
    prompt_tokens: int = Field(..., description="tiktoken tokens of the messages used.")
    completion_tokens: int = Field(..., description="tiktoken tokens of the content.")
    total_tokens: int = Field(..., description="prompt_tokens + completion_tokens.")


class ChatExtra(AskResponse):
    """The ``/v1/ask`` response of the standalone question, plus how the conversation became it."""

    standalone_question: str = Field(
        ...,
        description="The question retrieval and answering used (also in the "
        "X-Abstractqa-Standalone-Question header, percent-encoded).",
    )
    rewrite: Literal["none", "rule", "llm"] = Field(
        ...,
        description="How the latest message became standalone: 'none' (no earlier turn, or "
        "already standalone), 'rule' (the deterministic rewrite), 'llm' (the condensation "
        "prompt).",
    )
    rewrite_note: str | None = Field(
        None, description="Why the LLM condensation was not used, when it failed."
    )
    dropped_messages: int = Field(
        0, description="The oldest messages left out to stay within the conversation bounds."
    )


class ChatCompletion(BaseModel):
    id: str = Field(..., description="chatcmpl-..., unique per completion.")
    object: Literal["chat.completion"] = Field(
        "chat.completion", description="Always 'chat.completion'."
    )
    created: int = Field(..., description="Unix time of the request.")
    model: str = Field(..., description="The model name of the request.")
    choices: list[Choice] = Field(..., description="Exactly one choice.")
    usage: Usage = Field(..., description="Token counts (tiktoken cl100k_base).")
    abstractqa: ChatExtra = Field(..., description="The structured answer: citations, sources...")


class Delta(BaseModel):
    role: Literal["assistant"] | None = Field(None, description="In the first chunk only.")
    content: str | None = Field(None, description="The next piece of the content.")


class ChunkChoice(BaseModel):
    index: int = Field(0, description="Always 0: one choice.")
    delta: Delta = Field(..., description="What this chunk adds.")
    logprobs: None = Field(None, description="Always null.")
    finish_reason: Literal["stop"] | None = Field(
        None, description="'stop' in the last chunk of the choice."
    )


class ChatCompletionChunk(BaseModel):
    id: str = Field(..., description="chatcmpl-..., the same in every chunk of a stream.")
    object: Literal["chat.completion.chunk"] = Field(
        "chat.completion.chunk", description="Always 'chat.completion.chunk'."
    )
    created: int = Field(..., description="Unix time of the request.")
    model: str = Field(..., description="The model name of the request.")
    choices: list[ChunkChoice] = Field(
        ..., description="One choice; empty in the usage chunk (stream_options.include_usage)."
    )
    usage: Usage | None = Field(None, description="In the usage chunk only.")
    abstractqa: ChatExtra | None = Field(
        None, description="The structured answer, in the last chunk only."
    )

    def wire(self) -> dict[str, Any]:
        """As OpenAI sends it: deltas without null fields; ``usage`` and ``abstractqa`` only on
        the chunk that carries them."""
        data = self.model_dump(mode="json")
        for choice in data["choices"]:
            choice["delta"] = {k: v for k, v in choice["delta"].items() if v is not None}
        for key in ("usage", "abstractqa"):
            if data[key] is None:
                del data[key]
        return data


class OpenAIErrorDetail(BaseModel):
    message: str = Field(..., description="What is wrong, for people.")
    type: str = Field(..., description="OpenAI's error type, e.g. invalid_request_error.")
    param: str | None = Field(None, description="The request field at fault, when one is.")
    code: str = Field(..., description="The service's error code, as in its other endpoints.")


class OpenAIErrorBody(BaseModel):
    error: OpenAIErrorDetail = Field(..., description="The error, in OpenAI's shape.")
