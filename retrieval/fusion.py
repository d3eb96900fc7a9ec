"""Score fusion: plain data in, plain data out."""
from __future__ import annotations

import math
from typing import Mapping, Sequence


def standardize(scores: Mapping[str, float]) -> dict[str, float]:
    """z-scores, so that runs on different scales (cosine, BM25) can be added."""
    if not scores:
        return {}
    values = list(scores.values())
    mean = sum(values) / len(values)
    sd = math.sqrt(sum((v - mean) ** 2 for v in values) / len(values))
    if sd == 0:
        return {k: 0.0 for k in scores}
    return {k: (v - mean) / sd for k, v in scores.items()}


def standardized_fusion(runs: Sequence[Mapping[str, float]], weights: Sequence[float]) -> dict[str, float]:
    """Weighted sum of each run's z-scores; an id missing from a run gets that run's minimum."""
    if len(weights) != len(runs):
        raise ValueError(f"{len(runs)} runs but {len(weights)} weights")
    ids = {k for run in runs for k in run}
    fused = dict.fromkeys(ids, 0.0)
    for run, w in zip(runs, weights):
        z = standardize(run)
        floor = min(z.values(), default=0.0)
        for k in ids:
            fused[k] += w * z.get(k, floor)
    return fused


def ranked(scores: Mapping[str, float]) -> list[str]:
    """Ids by descending score; ties keep insertion order."""
    return [item for item, _ in sorted(scores.items(), key=lambda kv: -kv[1])]
