"""Merging segments: the policy that picks them, and the rewrite that drops tombstoned papers.

Tiered, as Lucene's policy is in spirit: segments are grouped by the order of magnitude (base
``merge_factor``) of their live papers, and once one tier holds ``merge_factor`` segments they
are rewritten as one. Each paper is thus rewritten about log(N) times over an index's life, and
a daily add of a few papers stays a small segment plus, now and then, a merge of small ones. A
segment whose papers are mostly deleted is rewritten on its own. ``index compact`` merges all.
Vectors (chunks' and titles') are copied, never re-embedded; readers keep the version they
opened.
"""

from __future__ import annotations

import math

import numpy as np

from indexer.chunking import ChunkSpec
from indexer.config import IndexerSettings
from indexer.index import IndexVersion
from indexer.models import Paper
from indexer.progress import Progress
from indexer.segment import Segment
from indexer.segment_sink import SegmentSink
from indexer.storage import IndexDir
from indexer.versioning import commit_version, plan_from

_MOSTLY_DELETED = 0.5


def pick(segments: list[Segment], settings: IndexerSettings, everything: bool) -> list[Segment]:
    """The segments to merge now (empty: none)."""
    if everything:
        if len(segments) > 1 or any(len(s.deleted_rows) for s in segments):
            return list(segments)
        return []
    for segment in segments:
        if segment.n_papers and len(segment.deleted_rows) / segment.n_papers > _MOSTLY_DELETED:
            return [segment]
    if len(segments) <= settings.index.max_segments:
        return []
    factor = settings.index.merge_factor
    tiers: dict[int, list[Segment]] = {}
    for segment in segments:
        if segment.n_live >= settings.index.segment_max_papers:
            continue  # full-sized segments are never merged again
        tier = int(math.log(max(1, segment.n_live), factor))
        tiers.setdefault(tier, []).append(segment)
    for tier in sorted(tiers):
        members = sorted(tiers[tier], key=lambda s: s.n_live)
        if len(members) >= factor:
            return members[:factor]
    # Too many segments but no full tier: fold the smallest together all the same.
    return sorted(segments, key=lambda s: s.n_live)[:factor]


def copy_live(segment: Segment, sink: SegmentSink, block: int = 2000) -> None:
    """Append ``segment``'s live papers, chunks and vectors to ``sink`` in row order."""
    live = segment.live_rows()
    for start in range(0, len(live), block):
        rows = live[start : start + block]
        papers = segment.papers_at(rows)
        sql = "SELECT row, paper_row, first, end, text FROM chunks WHERE paper_row IN ({})"
        specs: dict[int, list[ChunkSpec]] = {r: [] for r in rows}
        chunk_rows: dict[int, list[int]] = {r: [] for r in rows}
        for chunk_row, paper_row, first, end, text in sorted(segment.in_query(sql, rows)):
            specs[paper_row].append(ChunkSpec(int(first), int(end), text))
            chunk_rows[paper_row].append(int(chunk_row))
        ordered: list[Paper] = [papers[r] for r in rows]
        order = [c for r in rows for c in chunk_rows[r]]
        vectors = np.asarray(segment.vectors[np.array(order, dtype=np.int64)])
        titles = segment.title_vectors
        if titles is not None:
            titles = np.asarray(titles[np.array(rows, dtype=np.int64)])
        sink.add(ordered, [specs[r] for r in rows], vectors, titles=titles)


def merge_segments(
    root: IndexDir,
    settings: IndexerSettings,
    current: IndexVersion,
    everything: bool,
    progress: Progress,
) -> tuple[str | None, int]:
    """Merge what the policy picks into new segments and commit a version without the old
    ones; returns (the new version or None, how many segments were merged)."""
    picked = pick(current.segments, settings, everything)
    if not picked:
        return None, 0
    plan = plan_from(current, None, settings)
    dimension = int(current.manifest["embedder"]["dimension"])
    sink = SegmentSink(root, settings, dimension, plan.next_chunk_id, progress)
    progress.log(f"merging {len(picked)} segments ({sum(s.n_live for s in picked)} live papers)")
    try:
        for segment in picked:
            copy_live(segment, sink)
        sink.seal()
    except BaseException:
        sink.abandon()
        raise
    names = {s.name for s in picked}
    position = min(i for i, s in enumerate(plan.segments) if s["name"] in names)
    plan.drop_segments(names)
    before, after = plan.segments[:position], plan.segments[position:]
    plan.segments = before
    plan.add_segments(sink.sealed, sink.next_chunk_id)
    plan.segments.extend(after)
    operation = {"operation": "merge", "segments": sorted(names)}
    return commit_version(root, plan, operation, current.name), len(picked)
