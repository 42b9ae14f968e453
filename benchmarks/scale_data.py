"""Synthetic vectors shaped like sentence embeddings, for the vector-search scale benchmark.

A fixed mixture of ``n_centres`` clusters ("topics") on the unit sphere in ``dim`` dimensions:

* directions: a random orthonormal basis ``Q`` with a power-law spectrum, standard deviation
  ``(i + 1) ** (-decay / 2)`` along its i-th axis (scaled to unit total variance), as the PCA
  spectrum of real sentence embeddings falls off;
* centre j = normalise(``offset`` * m + Q (s * z_j)) with z_j ~ N(0, I) and m one shared unit
  vector: real embeddings of one collection share a mean direction (their average pairwise
  cosine is well above 0);
* cluster weights: log-normal (sigma 1), normalised, so topics have unequal sizes;
* a vector: pick a cluster by weight, x = normalise(centre + ``noise`` * Q (s * z)) with a fresh
  z ~ N(0, I).

Index vectors and queries are independent draws from the same mixture (queries are never
members of the index). The parameters were matched to the all-MiniLM-L6-v2 embeddings of the
1,460 CISI abstracts (see docs/benchmarks.md, "Vector search at scale").
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

DIM = 384
N_CENTRES = 4096
DECAY = 0.9
OFFSET = 0.7
NOISE = 0.5


@dataclass(frozen=True)
class Mixture:
    """The fixed cluster structure every draw comes from."""

    centres: np.ndarray  # (n_centres, dim), unit rows
    weights: np.ndarray  # (n_centres,), sums to 1
    axes: np.ndarray  # (dim, dim): rows are the basis vectors scaled by the spectrum
    noise: float


def _spectrum(dim: int, decay: float) -> np.ndarray:
    std = (np.arange(dim) + 1.0) ** (-decay / 2)
    return std / np.sqrt((std**2).sum())


def _normalise(x: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return np.asarray(x / np.maximum(norms, 1e-12), dtype=np.float32)


def make_mixture(
    seed: int = 0,
    dim: int = DIM,
    n_centres: int = N_CENTRES,
    decay: float = DECAY,
    offset: float = OFFSET,
    noise: float = NOISE,
) -> Mixture:
    rng = np.random.default_rng(seed)
    basis, _ = np.linalg.qr(rng.standard_normal((dim, dim)))
    axes = (basis.T * _spectrum(dim, decay)[:, None]).astype(np.float32)
    mean = _normalise(rng.standard_normal((1, dim)))
    centres = _normalise(offset * mean + rng.standard_normal((n_centres, dim)) @ axes)
    weights = rng.lognormal(0.0, 1.0, n_centres)
    return Mixture(centres, weights / weights.sum(), axes, noise)


def draw(mixture: Mixture, n: int, seed: int, batch: int = 65_536) -> np.ndarray:
    """``n`` unit vectors (float32, C-contiguous) from ``mixture``; the same seed gives the same
    vectors, and a smaller ``n`` a prefix of a larger one."""
    dim = mixture.axes.shape[0]
    out = np.empty((n, dim), dtype=np.float32)
    for start in range(0, n, batch):
        # One generator per batch: the rows of a batch do not depend on n.
        rng = np.random.default_rng([seed, start // batch])
        size = min(batch, n - start)
        which = rng.choice(len(mixture.weights), size=size, p=mixture.weights)
        z = rng.standard_normal((size, dim), dtype=np.float32)
        out[start : start + size] = _normalise(
            mixture.centres[which] + mixture.noise * (z @ mixture.axes)
        )
    return out


def neighbourhood_stats(vectors: np.ndarray, top_scores: np.ndarray) -> dict[str, float]:
    """Statistics that describe how clustered a collection is (for the calibration): the mean
    cosine of random pairs, the median cosine of a query's 1st and 10th nearest vector (from
    ``top_scores``, the exact top scores of some queries, best first), and the participation
    ratio of the PCA spectrum (an effective dimension)."""
    rng = np.random.default_rng(1)
    a, b = rng.integers(0, len(vectors), (2, 20_000))
    sample = vectors[rng.permutation(len(vectors))[:50_000]]
    eig = np.linalg.eigvalsh(np.cov(sample.T))
    return {
        "pair_cosine_mean": float(np.mean(np.sum(vectors[a] * vectors[b], axis=1))),
        "nn1_cosine_median": float(np.median(top_scores[:, 0])),
        "nn10_cosine_median": float(np.median(top_scores[:, 9])),
        "effective_dim": float(eig.sum() ** 2 / (eig**2).sum()),
    }
