"""Admin commands over the web app's database (never served over HTTP).

    python app.py gaps [--days N] [--limit N] [--json] [--db PATH]
    python -m web.admin gaps …            (the same, without app.py)

`gaps`: the questions the assistant declined, or whose answer got 👎, in the last N days, most
frequent first — what the policy office should answer next. Questions are grouped ignoring case,
full/half width, spaces and punctuation; they are stored redacted (web.storage), so personal
numbers never appear here. Reads the database named by POLICY_DB (or --db: a SQLite file or a
postgresql:// URL) read-only, so it can run while the servers are writing; with PostgreSQL it sees
the rows of every app process that shares the database.
"""
from __future__ import annotations

import argparse
import json
import sys
import unicodedata

from retrieval.config import Settings, StorageSettings

from .storage import Store

EXIT_OK, EXIT_USAGE, EXIT_DATA = 0, 2, 3


def add_gaps_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--days", type=_positive, default=30, help="look back this many days (default 30)")
    parser.add_argument("--limit", type=_positive, default=20, help="show at most this many questions (default 20)")
    parser.add_argument("--json", action="store_true", help="print JSON (one object with a list of gaps)")
    parser.add_argument("--db", help="a SQLite file or a postgresql:// URL (default: POLICY_DB, else data/policy.sqlite3)")


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _cut(text: str, width: int) -> str:
    out, used = "", 0
    for ch in text:
        w = _width(ch)
        if used + w > width - 1:
            return out + "…"
        out, used = out + ch, used + w
    return out


def cmd_gaps(args: argparse.Namespace, settings: StorageSettings) -> int:
    """`settings`: the storage settings (POLICY_DB …), loaded by the program; --db overrides the database."""
    try:
        store = Store(StorageSettings.at(args.db, retention_days=settings.retention_days) if args.db else settings)
    except (ValueError, RuntimeError) as e:
        print(f"error: {e}", file=sys.stderr)
        return EXIT_USAGE
    name = store.name                              # a URL is shown without its password
    if not store.db.exists():
        message = f"no database at {name} yet (POLICY_QUERY_LOG=on and POLICY_FEEDBACK=on fill it)"
        if args.json:
            print(json.dumps({"db": name, "days": args.days, "gaps": [], "note": message}, ensure_ascii=False))
        else:
            print(message)
        return EXIT_OK
    try:
        gaps = store.gaps(days=args.days, limit=args.limit)
    except store.db.errors as e:
        print(f"error: cannot read {name}: {str(e).strip()}", file=sys.stderr)
        return EXIT_DATA
    if args.json:
        print(json.dumps({"db": name, "days": args.days, "gaps": gaps}, ensure_ascii=False, indent=1))
        return EXIT_OK
    if not gaps:
        print(f"近{args.days}天没有被拒答或被点👎的问题。")
        return EXIT_OK
    print(f"知识缺口：近{args.days}天被拒答或被点👎的问题，按次数排列（{name}）")
    print(f"{'次数':>4} {'拒答':>4} {'👎':>3}  {'最近':<10}  {'拒答原因':<24} 问题")
    for g in gaps:
        reasons = ", ".join(f"{k}×{v}" for k, v in g["reasons"].items()) or "-"
        variants = f"（{g['variants']}种说法）" if g["variants"] > 1 else ""
        print(f"{g['count']:>6} {g['declined']:>6} {g['thumbs_down']:>3}  {g['last_seen'][:10]:<10}  "
              f"{_cut(reasons, 24):<24} {_cut(g['question'], 60)}{variants}")
    return EXIT_OK


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m web.admin", description="就业创业政策问答：管理命令")
    sub = parser.add_subparsers(dest="command", required=True)
    add_gaps_arguments(sub.add_parser("gaps", help="questions declined or rated 👎, most frequent first"))
    args = parser.parse_args(argv)
    try:
        settings = Settings.load()
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return EXIT_USAGE
    if args.command == "gaps":
        return cmd_gaps(args, settings.storage)
    return EXIT_USAGE


if __name__ == "__main__":
    sys.exit(main())
