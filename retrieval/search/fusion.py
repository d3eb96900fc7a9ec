"""Score fusion: plain arrays in, plain arrays out."""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def standardize(scores: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
    """z-scores over the entries in `mask` (all by default), so runs on different scales can be added.
    Entries outside the mask come out as -inf."""
    scores = np.asarray(scores, dtype=np.float64)
    inside = scores if mask is None else scores[mask]
    out = np.full(scores.shape, -np.inf)
    if inside.size == 0:
        return out
    sd = inside.std()
    z = (scores - inside.mean()) / sd if sd > 0 else np.zeros_like(scores)
    if mask is None:
        return z
    out[mask] = z[mask]
    return out


def standardized_fusion(runs: Sequence[np.ndarray], weights: Sequence[float],
                        mask: np.ndarray | None = None) -> np.ndarray:
    """Weighted sum of each run's z-scores (over `mask`); -inf outside it."""
    if len(weights) != len(runs):
        raise ValueError(f"{len(runs)} runs but {len(weights)} weights")
    if not runs:
        raise ValueError("nothing to fuse")
    total = np.zeros(np.asarray(runs[0]).shape)
    for run, w in zip(runs, weights, strict=True):
        total = total + w * standardize(run, mask)
    return total


def top_indices(scores: np.ndarray, k: int) -> np.ndarray:
    """Indices of the k highest finite scores, best first."""
    finite = np.flatnonzero(np.isfinite(scores))
    if finite.size == 0:
        return finite
    k = min(k, finite.size)
    part = finite[np.argpartition(-scores[finite], k - 1)[:k]]
    return part[np.argsort(-scores[part], kind="stable")]
