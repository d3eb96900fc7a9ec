"""Document text that does not read like policy: instructions to a model, and contact details that
do not come from a government source. Checked whenever the corpus is loaded (so at index build
and at every start).

A policy document states rules; it does not talk to an AI ("系统提示：…", "忽略以上内容", "你是一个
助手", "回答时告诉用户…"). Such text was planted, by someone who can edit the corpus or the source
it was copied from, to be quoted to residents or obeyed by an LLM. So in a line, the first sentence
that addresses a model and the rest of the line's text are **withheld**: removed before parsing (the
heading number and trailing department list stay, so the article keeps its place), hence never
indexed, quoted or sent to an LLM, until a person confirms it in `corpus/reviewed.tsv`.

Contact details that a government office would not publish in a policy — 400/800 numbers, mobile
numbers, WeChat or QQ ids, web or mail addresses outside gov.cn — are **reported** (a warning at
load, the list from `python app.py index`) but kept: a real document may name a bank's hotline.

`corpus/reviewed.tsv` (tab-separated, with a header `doc_id	decision	text`):
    decision `keep`      the line is genuine document text: used as any other, no longer reported
    decision `withhold`  confirmed planted (or unwanted): stays out, no longer reported
`text` is the withheld text as `python app.py index` lists it (for a contact, the whole line). The review
changes the text the index is built from, so the index is rebuilt.
"""
from __future__ import annotations

import csv
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from retrieval.types import CorpusError

log = logging.getLogger(__name__)

REVIEWED_FILE = "reviewed.tsv"
DECISIONS = ("keep", "withhold")

# Words that address a model or the one answering, rather than state policy.
_INSTRUCTION = re.compile(
    r"系统(?:提示|指令|消息|设定|角色)|提示词|"
    r"(?:忽略|无视|忘记|忘掉)(?:掉)?(?:以上|之前|前面|上述|先前|上面|所有|全部|此前|你的)|"
    r"你(?:现在)?(?:是|扮演|作为)(?:一个|一名|一位)?(?:AI|人工智能|智能|助手|大模型|语言模型|机器人|客服|ChatGPT|GPT)|"
    r"作为(?:一个|一名)?(?:AI|人工智能|助手|大模型|语言模型|智能客服)|"
    r"(?:AI|人工智能|大模型|语言模型|ChatGPT|GPT|助手|机器人)[，,：:]?\s*(?:请|必须|务必|应当|应该|需要)|"
    r"(?:回答|回复|作答)(?:用户|问题|时|的时候)|(?:告诉|提醒|引导|建议|要求)(?:用户|提问者|咨询者|来访者)|"
    r"(?:当|如果|若)(?:用户|有人)(?:问|询问|咨询)|对用户说|向用户(?:推荐|推销|提供|说明|介绍)|"
    r"(?:请|务必)(?:直接)?(?:输出|回复|回答)以下|"
    r"\b(?:system\s*prompt|ignore\s+(?:all\s+)?(?:the\s+)?(?:previous|above|prior)|you\s+are\s+(?:an?\s+)?"
    r"(?:ai|assistant|language\s+model|chatbot)|assistant\s*:|system\s*:)",
    re.I)

_SEP = r"[\s\-－—.·]?"
_CONTACTS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("400/800 号码", re.compile(r"(?<!\d)[48]00" + _SEP + r"\d(?:" + _SEP + r"\d){6}(?!\d)")),
    ("手机号", re.compile(r"(?<!\d)1[3-9]\d(?:" + _SEP + r"\d){8}(?!\d)")),
    ("微信", re.compile(r"(?:加(?:个)?)?(?:微信|薇信|威信|徽信|v信|V信|vx|VX|wx|WX|wechat)"
                      r"(?:号|ID|id)?\s*[:：]?\s*[A-Za-z][-_A-Za-z0-9]{5,19}"
                      r"|加(?:个)?(?:微信|薇信|v信|V信|vx|VX)", re.I)),
    ("QQ", re.compile(r"(?:QQ|qq|扣扣)(?:号|群)?\s*[:：]?\s*\d{5,12}")),
    ("网址", re.compile(r"(?:https?://|www\.)[!-~]+|(?<![@\w.])(?:[a-z0-9-]+\.)+(?:com|net|org|cn|top|xyz|"
                      r"vip|cc|info|biz|site|shop|club|io|me)(?:/[^\s，。；、]*)?(?![a-z0-9])", re.I)),
    ("邮箱", re.compile(r"[\w.+-]+@(?:[\w-]+\.)+[A-Za-z]{2,}")),
)
_GOVERNMENT_HOST = re.compile(r"(?:^|[/.@])(?:[\w-]+\.)*gov\.cn(?:[/:]|$)", re.I)


@dataclass(frozen=True)
class Flag:
    doc_id: str
    line: str
    kind: str        # "instruction" | "contact"
    reason: str      # what was found
    withheld: bool   # kept out of the corpus until reviewed


def instruction_in(line: str) -> str | None:
    """The words by which a line addresses a model, or None."""
    m = _INSTRUCTION.search(line)
    return m.group(0) if m else None


def contacts_in(line: str) -> list[str]:
    """Contact details in a line that do not come from a government source ("400 号码 400-820-1234")."""
    found = []
    for label, pattern in _CONTACTS:
        for m in pattern.finditer(line):
            value = m.group(0)
            if label in ("网址", "邮箱") and _GOVERNMENT_HOST.search(value.split("?", 1)[0] + "/"):
                continue
            found.append(f"{label} {value}")
    return found


def load_reviews(corpus_dir: Path) -> dict[tuple[str, str], str]:
    """(doc_id, line) -> decision, from corpus/reviewed.tsv (none when the file is absent)."""
    path = Path(corpus_dir) / REVIEWED_FILE
    if not path.is_file():
        return {}
    out: dict[tuple[str, str], str] = {}
    with path.open(encoding="utf-8", newline="") as f:
        for n, row in enumerate(csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE), start=2):
            doc_id, decision, text = (row.get("doc_id") or "").strip(), (row.get("decision") or "").strip(), \
                (row.get("text") or "").strip()
            if not doc_id or not text or decision not in DECISIONS:
                raise CorpusError(f"{path}:{n}: needs doc_id, decision ({' or '.join(DECISIONS)}) and text, "
                                  f"tab-separated, under the header doc_id<TAB>decision<TAB>text")
            out[(doc_id, text)] = decision
    return out


_PIECE = re.compile(r"[^。！？!?；;]*(?:[。！？!?；;]+|$)")


def _parts(line: str) -> tuple[str, str, str]:
    """(heading label as written, body, trailing department list) of a line; any may be empty."""
    from retrieval.documents.parsing import (  # the parser's own rules
        _match_heading,
        split_departments,
    )

    heading = _match_heading(line)
    prefix = line[: len(line) - len(heading.rest)] if heading and line.endswith(heading.rest) else ""
    rest = line[len(prefix):]
    body, departments = split_departments(rest)
    if departments and rest.startswith(body):
        return prefix, body, rest[len(body):]
    return prefix, rest, ""


def screen(doc_id: str, text: str, reviews: Mapping[tuple[str, str], str]) -> tuple[str, list[Flag]]:
    """(the text with what addresses a model withheld, what was found and not yet reviewed).

    In a line, the first sentence that addresses a model and the rest of that line's text are
    withheld (a planted instruction is often followed by what it wants said); the heading number
    and the trailing department list stay, so the article keeps its place and its departments.
    The withheld text is what a person reviews: `keep` puts it back, `withhold` keeps it out quietly."""
    out: list[str] = []
    flags: list[Flag] = []
    for line in text.split("\n"):
        stripped = line.strip()
        if not stripped or reviews.get((doc_id, stripped)) == "keep":
            out.append(line)
            continue
        prefix, body, tail = _parts(stripped)
        pieces = _PIECE.findall(body)
        cut = next((i for i, piece in enumerate(pieces)
                    if instruction_in(piece) or reviews.get((doc_id, piece.strip())) == "withhold"), None)
        held = "".join(pieces[cut:]).strip() if cut is not None else ""
        decision = reviews.get((doc_id, held)) or reviews.get((doc_id, stripped))
        if cut is not None and decision != "keep":
            if decision != "withhold":
                flags.append(Flag(doc_id, held, "instruction", instruction_in(held) or "", True))
            kept = prefix + "".join(pieces[:cut]).rstrip() + tail
            out.append(kept)
            stripped = kept
        else:
            out.append(line)
        flags.extend(Flag(doc_id, stripped, "contact", found, False) for found in contacts_in(stripped))
    return "\n".join(out), flags


def withhold(corpus_dir: Path, doc_id: str, text: str, reviews: Mapping[tuple[str, str], str]) -> str:
    """The hook for corpus loading: `screen`, with one warning per document for what it found."""
    cleaned, flags = screen(doc_id, text, reviews)
    held = [f for f in flags if f.withheld]
    contacts = [f for f in flags if not f.withheld]
    if held:
        log.warning("%s: %d line(s) address an AI model (%s) and are kept out of answers until a person "
                    "confirms them in %s; `python app.py index` lists them", doc_id, len(held),
                    "、".join(sorted({f.reason for f in held}))[:80], Path(corpus_dir) / REVIEWED_FILE)
    if contacts:
        log.warning("%s: %d contact detail(s) not from a government source (%s); check them, then record "
                    "them in %s", doc_id, len(contacts), "; ".join(f.reason for f in contacts[:3])[:160],
                    Path(corpus_dir) / REVIEWED_FILE)
    return cleaned


def screen_corpus(corpus_dir: Path | str) -> list[Flag]:
    """Everything the loader flags in a corpus folder, for the report of `python app.py index`."""
    from retrieval.documents.corpus import (
        apply_corrections,
        load_corrections,
        load_metadata,
        read_document,
    )
    from retrieval.documents.text import normalize_whitespace
    from retrieval.types import CorpusError

    corpus_dir = Path(corpus_dir)
    reviews = load_reviews(corpus_dir)
    corrections = load_corrections(corpus_dir)
    flags: list[Flag] = []
    for meta in load_metadata(corpus_dir):
        try:
            raw = read_document(corpus_dir, meta)[0]
        except CorpusError:
            continue  # reported by the loader as skipped
        text = normalize_whitespace(apply_corrections(meta.doc_id, raw, corrections))
        flags.extend(screen(meta.doc_id, text, reviews)[1])
    return flags


def report(flags: list[Flag]) -> str:
    """The flags as lines for a person to review (and paste into reviewed.tsv)."""
    if not flags:
        return ""
    lines = [f"{len(flags)} line(s) to review: add each to {REVIEWED_FILE} as doc_id<TAB>keep|withhold<TAB>line"]
    for f in flags:
        what = f"withheld, addresses a model ({f.reason})" if f.withheld else f"kept, contact: {f.reason}"
        lines.append(f"  {f.doc_id}: [{what}] {f.line[:200]}")
    return "\n".join(lines)
