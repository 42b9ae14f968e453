"""The ``abstractqa`` command, run as a user runs it: in subprocesses, with the real model.

Every run gets an environment in which nothing could be downloaded: no offline switches set,
empty home and cache directories, and every proxy pointing at a dead port. Runs that do not
depend on each other are started together to keep the module fast.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from indexer.index import open_index

ROOT = Path(__file__).resolve().parents[2]
CORPUS = ROOT / "data" / "daily-papers.txt"
PAPERS = 54
EMBEDDER = "sentence-transformers:all-MiniLM-L6-v2"
DEAD_PROXY = "http://127.0.0.1:9"
PARAPHRASE = (
    "How can I adapt a multilingual model to a new language and task by combining two sparse "
    "sets of weight changes, without adding parameters at inference time?"
)
SPARSE_FT = "composable-sparse-fine-tuning-for-cross-lingual-transfer-27123fb7"
JCOLA = "jcola-japanese-corpus-of-linguistic-acceptability-06dece5f"
TIMEOUT_S = 120
# Offline switches, cache locations and proxy settings of the test run are not passed on: the
# runs get none but the empty caches and dead proxies below.
_NOT_PASSED_ON = (
    "ABSTRACTQA_",
    "HF_",
    "HUGGINGFACE_",
    "TRANSFORMERS_",
    "SENTENCE_TRANSFORMERS_",
    "TORCH_HOME",
    "TIKTOKEN_",
    "NLTK_",
    "XDG_",
)
_OFFLINE_SWITCHES = ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "TIKTOKEN_CACHE_DIR", "NLTK_DATA")
_PROXIES = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy")


@dataclass
class Result:
    args: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str

    def json(self) -> Any:
        return json.loads(self.stdout)

    def __str__(self) -> str:
        return (
            f"$ abstractqa {' '.join(self.args)} -> {self.returncode}\n{self.stdout}{self.stderr}"
        )


class Run:
    """One ``python -m service.cli`` subprocess, started at once; ``result()`` waits for it."""

    def __init__(
        self, env: dict[str, str], *args: str | Path, cwd: Path | None = None, stdin: str = ""
    ) -> None:
        self.args = tuple(str(a) for a in args)
        self._stdin = stdin
        self._process = subprocess.Popen(
            [sys.executable, "-m", "service.cli", *self.args],
            env=env,
            cwd=cwd,
            stdin=subprocess.PIPE if stdin else subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def result(self) -> Result:
        try:
            stdout, stderr = self._process.communicate(self._stdin or None, timeout=TIMEOUT_S)
        except subprocess.TimeoutExpired:
            self._process.kill()
            stdout, stderr = self._process.communicate()
            pytest.fail(f"abstractqa {' '.join(self.args)} ran over {TIMEOUT_S} s:\n{stderr}")
        return Result(self.args, self._process.returncode, stdout, stderr)


@pytest.fixture(scope="module")
def offline_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Empty home and cache directories: a model or data file fetched at run time lands here."""
    home = tmp_path_factory.mktemp("offline-home")
    for name in ("home", "cache", "hf"):
        (home / name).mkdir()
    return home


@pytest.fixture(scope="module")
def env(offline_home: Path) -> dict[str, str]:
    base = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(_NOT_PASSED_ON) and "PROXY" not in k.upper()
    }
    return base | dict.fromkeys(_PROXIES, DEAD_PROXY) | {
        "HOME": str(offline_home / "home"),
        "XDG_CACHE_HOME": str(offline_home / "cache"),
        "HF_HOME": str(offline_home / "hf"),
    }  # fmt: skip


def cli(env: dict[str, str], *args: str | Path, cwd: Path | None = None) -> Result:
    return Run(env, *args, cwd=cwd).result()


@pytest.fixture(scope="module")
def added(tmp_path_factory: pytest.TempPathFactory, env: dict[str, str]) -> tuple[Path, Result]:
    """The bundled corpus indexed by ``abstractqa index add``: (index dir, the run)."""
    index_dir = tmp_path_factory.mktemp("cli") / "index"
    result = cli(env, "index", "add", CORPUS, "--index-dir", index_dir)
    assert result.returncode == 0, result
    return index_dir, result


@pytest.fixture(scope="module")
def index_dir(added: tuple[Path, Result]) -> Path:
    return added[0]


@pytest.fixture(scope="module")
def searches(index_dir: Path, env: dict[str, str]) -> tuple[Result, Result]:
    """A paraphrase searched with the defaults, and exact terms with ``-k 3 --mode bm25``."""
    hybrid = Run(env, "search", PARAPHRASE, "--json", "--index-dir", index_dir)
    bm25 = Run(
        env, "search", "Japanese linguistic acceptability corpus", "-k", "3", "--mode", "bm25",
        "--json", "--index-dir", index_dir,
    )  # fmt: skip
    return hybrid.result(), bm25.result()


def private_copy(index_dir: Path, tmp_path: Path) -> Path:
    target = tmp_path / "index"
    shutil.copytree(index_dir, target)
    return target


# -- index add and info ----------------------------------------------------------------------


def test_index_add_prints_a_summary_and_a_second_add_of_the_same_file_changes_nothing(
    added: tuple[Path, Result], env: dict[str, str]
) -> None:
    index_dir, first = added
    assert "54 added, 0 updated, 0 unchanged" in first.stdout
    assert "papers/s" in first.stdout and "version: v000001" in first.stdout
    assert re.search(r"\d+% waiting on the embedder, \d+% in our own stages", first.stdout)
    manifest = json.loads((index_dir / "versions" / "v000001" / "manifest.json").read_text())
    chunks = manifest["counts"]["chunks"]
    # Chunks and the titles of the papers (all of the bundled ones have an abstract).
    texts = chunks + PAPERS
    assert re.search(rf"texts embedded: {texts} at \d+ texts/s;", first.stdout), first.stdout
    assert manifest["counts"]["chunks"] >= PAPERS

    again = cli(env, "index", "add", CORPUS, "--index-dir", index_dir)

    assert again.returncode == 0, again
    assert "0 added, 0 updated, 54 unchanged" in again.stdout
    assert "texts embedded: 0;" in again.stdout and "texts/s" not in again.stdout
    assert "no new version" in again.stdout and "v000002" not in again.stdout
    assert (index_dir / "CURRENT").read_text().strip() == "v000001"


def test_progress_without_a_terminal_is_plain_lines_on_stderr(
    added: tuple[Path, Result],
) -> None:
    _, result = added
    assert "\r" not in result.stderr and "\x1b" not in result.stderr
    assert "it/s" not in result.stderr and "█" not in result.stderr
    lines = result.stderr.splitlines()
    assert f"read {CORPUS}: 54 papers (daily), 0 errors" in lines
    assert f"reading {CORPUS} (daily)" in lines
    assert any(re.fullmatch(r"embedding \d+ texts \(0 resumed\)", line) for line in lines)
    assert any(
        re.fullmatch(r"papers: 54 \(\d+/s\), 100% of the input, ETA 0 s", line) for line in lines
    )
    # Progress goes to stderr only: stdout is the one summary line.
    assert len(result.stdout.splitlines()) == 1 and "embedding" not in result.stdout


def test_index_info_describes_the_version_and_json_prints_the_manifest(
    index_dir: Path, env: dict[str, str]
) -> None:
    text, as_json = (
        Run(env, "index", "info", "--index-dir", index_dir),
        Run(env, "index", "info", "--json", "--index-dir", index_dir),
    )
    info, manifest_run = text.result(), as_json.result()

    assert info.returncode == 0, info
    assert f"index:      {index_dir.resolve()}" in info.stdout
    assert "version:    v000001" in info.stdout
    assert f"papers:     {PAPERS}" in info.stdout
    assert f"embedder:   {EMBEDDER}" in info.stdout
    assert str(CORPUS) in info.stdout and "(daily, 54 papers" in info.stdout
    assert manifest_run.returncode == 0, manifest_run
    manifest = manifest_run.json()
    on_disk = json.loads((index_dir / "versions" / "v000001" / "manifest.json").read_text())
    assert manifest == on_disk
    assert manifest["version"] == "v000001" and manifest["counts"]["papers"] == PAPERS
    assert manifest["embedder"]["name"] == EMBEDDER
    assert list(manifest["sources"]) == [str(CORPUS)]


# -- search ----------------------------------------------------------------------------------


def test_search_json_ranks_the_paraphrased_paper_first(searches: tuple[Result, Result]) -> None:
    hybrid, _ = searches
    assert hybrid.returncode == 0, hybrid
    body = hybrid.json()
    assert body["mode"] == "hybrid" and len(body["results"]) == 10
    first = body["results"][0]
    assert first["paper_id"] == SPARSE_FT
    assert first["title"] == "Composable Sparse Fine-Tuning for Cross-Lingual Transfer"
    assert isinstance(first["score"], float) and first["snippet"]
    scores = [r["score"] for r in body["results"]]
    assert scores == sorted(scores, reverse=True)


def test_search_k_limits_the_results_and_bm25_mode_ranks_exact_terms(
    searches: tuple[Result, Result],
) -> None:
    _, bm25 = searches
    assert bm25.returncode == 0, bm25
    body = bm25.json()
    assert body["mode"] == "bm25" and len(body["results"]) == 3
    assert body["results"][0]["paper_id"] == JCOLA
    assert len({r["paper_id"] for r in body["results"]}) == 3


# -- where the index is ----------------------------------------------------------------------


def test_the_index_dir_comes_from_the_option_then_the_environment_then_dot_index(
    index_dir: Path, env: dict[str, str], tmp_path: Path
) -> None:
    local = private_copy(index_dir, tmp_path)  # ./index of every run below
    elsewhere = tmp_path / "no-index-here"
    from_env = Run(env | {"ABSTRACTQA_INDEX_DIR": str(index_dir)}, "index", "info", cwd=tmp_path)
    option_wins = Run(
        env | {"ABSTRACTQA_INDEX_DIR": str(elsewhere)},
        "index", "info", "--index-dir", index_dir, cwd=tmp_path,
    )  # fmt: skip
    default = Run(env, "index", "info", cwd=tmp_path)

    for run, expected in ((from_env, index_dir), (option_wins, index_dir), (default, local)):
        result = run.result()
        assert result.returncode == 0, result
        assert f"index:      {expected.resolve()}" in result.stdout
        assert "version:    v000001" in result.stdout


# -- remove ----------------------------------------------------------------------------------


def test_a_removed_paper_is_no_longer_found_and_an_unknown_id_is_an_error(
    index_dir: Path, env: dict[str, str], tmp_path: Path
) -> None:
    copy, other = private_copy(index_dir, tmp_path), private_copy(index_dir, tmp_path / "other")
    remove_run = Run(env, "index", "remove", SPARSE_FT, "--index-dir", copy)
    unknown_run = Run(env, "index", "remove", "no-such-paper", "--index-dir", other)
    removed, unknown = remove_run.result(), unknown_run.result()

    assert unknown.returncode == 1, unknown
    assert "no-such-paper" in unknown.stderr and unknown.stderr.startswith("error: ")
    assert (other / "CURRENT").read_text().strip() == "v000001"
    assert removed.returncode == 0, removed
    assert "1 removed" in removed.stdout and "version: v000002" in removed.stdout

    after = cli(env, "search", PARAPHRASE, "-k", "100", "--json", "--index-dir", copy)
    assert after.returncode == 0, after
    found = [r["paper_id"] for r in after.json()["results"]]
    assert SPARSE_FT not in found and len(found) == PAPERS - 1


# -- bad input -------------------------------------------------------------------------------


def test_bad_input_files_are_reported_by_file_line_and_reason(
    env: dict[str, str], tmp_path: Path
) -> None:
    good = {
        "id": "p1",
        "title": "Sparse Retrieval for Rare Terms",
        "abstract": "Dense retrievers miss rare terms. Adding sparse lexical retrieval "
        "recovers most of the lost recall on rare-term queries.",
    }
    useless = tmp_path / "useless.jsonl"
    useless.write_text('{"title": ""}\nnot json\n')
    mixed = tmp_path / "mixed.jsonl"
    mixed.write_text(json.dumps(good) + "\n" + '["not", "an", "object"]\n')
    binary = tmp_path / "model.bin"
    binary.write_bytes(b"PK\x03\x04\x00\x00garbage")
    missing = tmp_path / "nowhere.jsonl"
    runs = {
        name: Run(env, "index", "add", *paths, "--index-dir", tmp_path / f"index-{name}")
        for name, paths in (
            ("useless", [useless]),
            ("mixed", [mixed]),
            ("unreadable", [missing, binary]),
        )
    }
    results = {name: run.result() for name, run in runs.items()}

    result = results["useless"]
    assert result.returncode == 1, result
    assert f"error: no usable paper in {useless}" in result.stderr
    assert f"{useless}: line 2: invalid JSON" in result.stderr
    assert not (tmp_path / "index-useless" / "CURRENT").exists()

    result = results["mixed"]
    assert result.returncode == 0, result
    assert "1 added" in result.stdout and "1 rejected" in result.stdout
    assert f"error: {mixed}: line 2: expected a JSON object, got list" in result.stderr.splitlines()
    papers = open_index(tmp_path / "index-mixed").papers.values()
    assert [p.title for p in papers] == [good["title"]]

    result = results["unreadable"]
    assert result.returncode == 1, result
    assert f"{missing}: cannot read file: No such file or directory" in result.stderr
    assert f"{binary}: binary file, not text (NUL byte at offset 4)" in result.stderr
    for result in results.values():
        assert "Traceback" not in result.stderr


def test_index_add_reads_stdin_and_compressed_files_with_filters_and_counts(
    env: dict[str, str], tmp_path: Path
) -> None:
    def paper(paper_id: str, venue: str, abstract: str = "") -> str:
        title = f"Paper {paper_id} on retrieval"
        row = {"id": paper_id, "title": title, "abstract": abstract, "venue": venue}
        return json.dumps(row) + "\n"

    text = "We study retrieval. It works."
    piped = paper("s1", "ACL", text) + paper("s2", "ACL") + paper("s3", "NeurIPS", text)
    packed = tmp_path / "more.jsonl.gz"
    packed.write_bytes(gzip.compress((paper("g1", "ACL", text) + '{"id": "e1"}\n').encode()))
    index_dir = tmp_path / "index"
    add = Run(
        env, "index", "add", "-", packed, "--where", "venue=AC?", "--title-only", "skip",
        "--index-dir", index_dir, stdin=piped,
    )  # fmt: skip
    bad_where = Run(env, "index", "add", packed, "--where", "year>soon")
    result, refused = add.result(), bad_where.result()

    assert result.returncode == 0, result
    assert "2 added" in result.stdout
    assert "records: 1 filtered out, 1 title-only, 1 empty" in result.stdout
    lines = result.stderr.splitlines()
    assert "read <stdin>: 1 papers (jsonl), 0 errors" in lines
    assert "warning: <stdin>: line 2: title only (no abstract); skipped" in lines
    assert f"warning: {packed}: line 2: empty record (no title and no abstract)" in lines
    manifest = json.loads((index_dir / "versions" / "v000001" / "manifest.json").read_text())
    assert set(manifest["sources"]) == {"<stdin>", str(packed.resolve())}
    assert (
        manifest["sources"][str(packed.resolve())]["sha256"]
        == hashlib.sha256(packed.read_bytes()).hexdigest()
    )
    assert refused.returncode == 2, refused
    assert "argument --where: bad --where 'year>soon'" in refused.stderr


def test_a_stream_that_breaks_off_is_one_error_line_and_no_new_version(
    index_dir: Path, env: dict[str, str], tmp_path: Path
) -> None:
    copy = private_copy(index_dir, tmp_path)
    rows = "".join(
        json.dumps({"title": f"Paper {i}", "abstract": hashlib.sha256(bytes(i)).hexdigest() * 9})
        + "\n"
        for i in range(2000)
    )
    data = gzip.compress(rows.encode())
    cut = tmp_path / "cut.jsonl.gz"
    cut.write_bytes(data[: len(data) // 2])

    result = cli(env, "index", "add", cut, "--index-dir", copy)

    assert result.returncode == 1, result
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and errors[0].startswith(f"error: {cut}: line ")
    assert "gzip stream is truncated or damaged" in errors[0]
    assert "Traceback" not in result.stderr
    assert (copy / "CURRENT").read_text().strip() == "v000001"
    assert sorted(p.name for p in (copy / "versions").iterdir()) == ["v000001"]


# -- serve -----------------------------------------------------------------------------------


def test_serve_refuses_a_missing_or_truncated_index_before_opening_a_port(
    index_dir: Path, env: dict[str, str], tmp_path: Path
) -> None:
    damaged = private_copy(index_dir, tmp_path)
    vectors = damaged / "segments" / "s000001" / "vectors.npy"
    with vectors.open("r+b") as handle:
        handle.truncate(vectors.stat().st_size // 2)
    absent = tmp_path / "absent"
    # Port 0: had serve got as far as listening, it would not exit (the run would time out).
    missing_run = Run(env, "serve", "--index-dir", absent, "--port", "0")
    truncated_run = Run(env, "serve", "--index-dir", damaged, "--port", "0")
    missing, truncated = missing_run.result(), truncated_run.result()

    assert missing.returncode == 1, missing
    assert missing.stderr.startswith(f"error: no index at {absent}")
    assert truncated.returncode == 1, truncated
    assert truncated.stderr.startswith(f"error: {vectors}: ")
    assert "truncated" in truncated.stderr
    for result in (missing, truncated):
        assert "serving" not in result.stderr and "Uvicorn running" not in result.stderr
        assert "Traceback" not in result.stderr


_POINTER_DAMAGE = {
    "not UTF-8": "does not name an index version: not UTF-8 text (byte 0)",
    "a directory": "is a directory, not a file",
}
_ON_A_DAMAGED_POINTER = {
    "index info": ("index", "info"),
    "search": ("search", "sparse fine-tuning"),
    "index add": ("index", "add", CORPUS),
    "serve": ("serve", "--port", "0"),
}


@pytest.fixture(scope="module")
def pointer_runs(
    index_dir: Path, env: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> dict[tuple[str, str], tuple[Path, Result]]:
    """Every command on a copy whose CURRENT is garbage bytes, or a directory; all at once."""
    started = {}
    for damage in _POINTER_DAMAGE:
        for command, args in _ON_A_DAMAGED_POINTER.items():
            index = private_copy(index_dir, tmp_path_factory.mktemp("pointer"))
            (index / "CURRENT").unlink()
            if damage == "a directory":
                (index / "CURRENT").mkdir()
            else:
                (index / "CURRENT").write_bytes(b"\xff\x00\xfe")
            started[damage, command] = (index, Run(env, *args, "--index-dir", index))
    return {key: (index, run.result()) for key, (index, run) in started.items()}


@pytest.mark.parametrize("command", list(_ON_A_DAMAGED_POINTER))
@pytest.mark.parametrize("damage", list(_POINTER_DAMAGE))
def test_a_damaged_current_pointer_is_one_error_line_naming_it_for_every_command(
    damage: str, command: str, pointer_runs: dict[tuple[str, str], tuple[Path, Result]]
) -> None:
    index, result = pointer_runs[damage, command]
    assert result.returncode == 1, result
    assert result.stderr.splitlines()[-1:] == [
        f"error: {index / 'CURRENT'}: {_POINTER_DAMAGE[damage]}"
    ], result
    assert "Traceback" not in result.stderr, result
    assert "Uvicorn running" not in result.stderr


# -- offline ---------------------------------------------------------------------------------


def test_nothing_is_downloaded_at_run_time(
    added: tuple[Path, Result],
    searches: tuple[Result, Result],
    env: dict[str, str],
    offline_home: Path,
) -> None:
    # Both runs had no offline switch, empty caches and dead proxies.
    assert not set(_OFFLINE_SWITCHES) & set(env)
    assert all(env[name] == DEAD_PROXY for name in _PROXIES)
    assert env["HF_HOME"] == str(offline_home / "hf")
    _, index_add = added
    hybrid, _ = searches
    assert index_add.returncode == 0 and hybrid.returncode == 0
    assert hybrid.json()["results"][0]["paper_id"] == SPARSE_FT
    downloaded = [p for p in offline_home.rglob("*") if p.is_file()]
    assert downloaded == []
