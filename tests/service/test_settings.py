"""Settings grouped by concern keep the flat environment names users already set."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from indexer import IndexerSettings
from service.settings import Settings, invalid_settings

# (flat environment name, its value, the group, the field, the value read back)
FLAT = [
    ("ABSTRACTQA_INDEX_DIR", "/srv/abstracts", "index", "index_dir", "/srv/abstracts"),
    ("ABSTRACTQA_KEEP_VERSIONS", "5", "index", "keep_versions", 5),
    ("ABSTRACTQA_EMBED_MODEL", "my-model", "embedding", "model", "my-model"),
    ("ABSTRACTQA_EMBED_BATCH_SIZE", "32", "embedding", "batch_size", 32),
    ("ABSTRACTQA_CHUNK_TOKENS", "128", "chunking", "tokens", 128),
    ("ABSTRACTQA_RM3_DOCS", "7", "feedback", "rm3_docs", 7),
    ("ABSTRACTQA_PORT", "9000", "runtime", "port", 9000),
    ("ABSTRACTQA_TORCH_THREADS", "2", "runtime", "torch_threads", 2),
    ("ABSTRACTQA_LOG_LEVEL", "debug", "observability", "level", "debug"),
    ("ABSTRACTQA_QUERY_CACHE_SIZE", "0", "query_encoder", "cache_size", 0),
    ("ABSTRACTQA_QUERY_ENCODER_WORKERS", "3", "query_encoder", "encoder_workers", 3),
    ("ABSTRACTQA_ASK_TOP_K", "7", "retrieval", "ask_top_k", 7),
    ("ABSTRACTQA_ABSTAIN_MIN_SCORE", "0.5", "answering", "abstain_min_score", 0.5),
    ("ABSTRACTQA_ANSWER_BACKEND", "openai", "answering", "answer_backend", "openai"),
    ("ABSTRACTQA_LLM_MODEL", "qwen", "llm", "model", "qwen"),
    ("ABSTRACTQA_LLM_MAX_TOKENS", "99", "llm", "max_tokens", 99),
    ("ABSTRACTQA_CHAT_MAX_MESSAGES", "9", "chat", "max_messages", 9),
    ("ABSTRACTQA_MAX_BODY_BYTES", "4096", "limits", "max_body_bytes", 4096),
    ("ABSTRACTQA_RATE_LIMIT", "10/minute", "limits", "rate_limit", "10/minute"),
    ("ABSTRACTQA_TRUSTED_PROXIES", "10.0.0.0/8", "security", "trusted_proxies", ["10.0.0.0/8"]),
]


@pytest.mark.parametrize(("variable", "value", "group", "field", "expected"), FLAT)
def test_every_flat_environment_variable_reaches_its_group(
    monkeypatch: pytest.MonkeyPatch,
    variable: str,
    value: str,
    group: str,
    field: str,
    expected: object,
) -> None:
    monkeypatch.setenv(variable, value)

    read = getattr(getattr(Settings(), group), field)

    assert (str(read) if field == "index_dir" else read) == expected


def test_no_two_groups_share_a_flat_name() -> None:
    names = [
        info.annotation.flat_prefix + field  # type: ignore[union-attr]
        for info in Settings.model_fields.values()
        for field in info.annotation.model_fields  # type: ignore[union-attr]
    ]

    assert len(names) == len(set(names))


def test_a_flat_keyword_sets_its_field_and_leaves_the_groups_environment_in_force(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ABSTRACTQA_LLM_MODEL", "from-env")

    settings = Settings(llm_base_url="http://llm.test/v1", index_dir="/tmp/somewhere")

    assert settings.llm.base_url == "http://llm.test/v1"
    assert settings.llm.model == "from-env"
    assert str(settings.index.index_dir) == "/tmp/somewhere"


def test_groups_may_be_given_as_objects_or_by_field_and_model_validate_takes_flat_names() -> None:
    by_group = Settings(llm={"model": "grouped"}, chunking={"tokens": 64})
    validated = Settings.model_validate({"llm_model": "flat", "llm_max_tokens": 99})

    assert (by_group.llm.model, by_group.chunking.tokens) == ("grouped", 64)
    assert (validated.llm.model, validated.llm.max_tokens) == ("flat", 99)
    assert Settings(llm=by_group.llm).llm is by_group.llm


def test_the_service_settings_are_indexer_settings_with_the_same_groups() -> None:
    settings = Settings(embed_model="shared")

    assert isinstance(settings, IndexerSettings)
    assert settings.embedding.model == "shared"


def test_the_old_name_of_the_local_embed_mode_is_still_accepted(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ABSTRACTQA_EMBED_MODE", "sentence-transformers")

    assert Settings().embedding.mode == "local"


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("ABSTRACTQA_LLM_MAX_TOKENS", "1"),
        ("ABSTRACTQA_QUERY_BATCH_MAX", "0"),
        ("ABSTRACTQA_EMBED_BATCH_SIZE", "0"),
        ("ABSTRACTQA_MAX_BODY_BYTES", "10"),
    ],
)
def test_an_invalid_value_is_reported_by_its_flat_variable_name(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str
) -> None:
    monkeypatch.setenv(variable, value)

    with pytest.raises(ValidationError) as raised:
        Settings()

    assert invalid_settings(raised.value).startswith(f"error: invalid setting {variable}: ")


def test_updated_changes_settings_by_their_flat_names_and_refuses_unknown_ones() -> None:
    settings = Settings(llm_model="before")

    changed = settings.updated(index_dir="/tmp/elsewhere", llm_model="after")

    assert (str(changed.index.index_dir), changed.llm.model) == ("/tmp/elsewhere", "after")
    assert settings.llm.model == "before" and changed.chunking == settings.chunking
    with pytest.raises(TypeError, match="no such settings: llm_modle"):
        settings.updated(llm_modle="typo")
