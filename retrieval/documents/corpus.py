"""Load the corpus folder: metadata, documents, corrections; parse into articles."""
from __future__ import annotations

import csv
import hashlib
import json
import logging
import re
import unicodedata
from dataclasses import dataclass, field, fields
from pathlib import Path

from retrieval.documents.parsing import parse_document
from retrieval.documents.screening import load_reviews, withhold
from retrieval.documents.text import normalize_whitespace
from retrieval.types import Article, CorpusError, DocumentMeta

log = logging.getLogger(__name__)

METADATA_FILE = "documents.json"
CORRECTIONS_FILE = "corrections.tsv"
_REQUIRED = ("doc_id", "file", "title", "short_name", "issuer", "date", "level")
LEVELS = ("国家", "省级", "地市级", "县级")
_DOC_ID = re.compile(r"^[a-z0-9][a-z0-9-]{0,63}$")


@dataclass(frozen=True)
class Correction:
    doc_id: str
    original: str
    corrected: str
    note: str = ""


@dataclass(frozen=True)
class Corpus:
    documents: tuple[DocumentMeta, ...]
    articles: tuple[Article, ...]
    fingerprint: str  # hash of everything that shapes the articles
    doc_fingerprints: dict[str, str] = field(default_factory=dict)  # the same, per document
    home_region: str | None = None   # where the deployment serves (documents.json `home_region`)
    problems: tuple[str, ...] = ()   # documents converted or skipped at load, for `app.py check`
    by_id: dict[str, Article] = field(init=False, repr=False, compare=False)

    docs_by_id: dict[str, DocumentMeta] = field(init=False, repr=False, compare=False)
    # documents whose article numbers run on (（一）…（二十七）), so one number names an article
    numbered_throughout: frozenset[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "by_id", {a.id: a for a in self.articles})
        object.__setattr__(self, "docs_by_id", {d.doc_id: d for d in self.documents})
        last_numbers: dict[str, list[int]] = {}
        for a in self.articles:
            last_numbers.setdefault(a.doc_id, []).append(a.path[-1])
        object.__setattr__(self, "numbered_throughout",
                           frozenset(d for d, ns in last_numbers.items() if len(set(ns)) == len(ns)))

    def document(self, doc_id: str) -> DocumentMeta:
        return self.docs_by_id[doc_id]

    def article(self, article_id: str) -> Article:
        return self.by_id[article_id]


def load_metadata(corpus_dir: Path) -> list[DocumentMeta]:
    return read_metadata(corpus_dir)[0]


def read_metadata(corpus_dir: Path) -> tuple[list[DocumentMeta], str | None]:
    """(the document entries, the deployment's home region) of documents.json."""
    path = corpus_dir / METADATA_FILE
    if not path.is_file():
        raise CorpusError(f"{path}: metadata file not found; create it with one entry per document "
                          f"(fields: {', '.join(_REQUIRED)})")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise CorpusError(f"{path}: not valid UTF-8 JSON ({e})") from e
    entries = data.get("documents") if isinstance(data, dict) else None
    if not isinstance(entries, list) or not entries:
        raise CorpusError(f"{path}: expected {{\"documents\": [ ... ]}} with at least one entry")
    allowed = {f.name for f in fields(DocumentMeta)}
    metas: list[DocumentMeta] = []
    for i, entry in enumerate(entries):
        where = f"{path}: documents[{i}]"
        if not isinstance(entry, dict):
            raise CorpusError(f"{where}: expected an object")
        for name in _REQUIRED:
            value = entry.get(name)
            if not isinstance(value, str) or not value.strip():
                raise CorpusError(f"{where}: field '{name}' is missing or empty")
        unknown = set(entry) - allowed
        if unknown:
            raise CorpusError(f"{where}: unknown field(s) {sorted(unknown)}")
        if entry["level"] not in LEVELS:
            raise CorpusError(f"{where}: field 'level' must be one of {', '.join(LEVELS)}, got {entry['level']!r} "
                              f"(a region's rules are 省级, a city's 地市级)")
        for name in ("number", "region"):
            if not isinstance(entry.get(name, ""), str):
                raise CorpusError(f"{where}: field '{name}' must be text (it may be empty)")
        if not _DOC_ID.match(entry["doc_id"]):
            raise CorpusError(f"{where}: field 'doc_id' must be lower-case letters, digits and '-'")
        if Path(entry["file"]).name != entry["file"]:
            raise CorpusError(f"{where}: field 'file' must be a file name inside {corpus_dir}")
        aliases = entry.get("aliases", [])
        if not isinstance(aliases, list) or not all(isinstance(a, str) for a in aliases):
            raise CorpusError(f"{where}: field 'aliases' must be a list of strings")
        metas.append(DocumentMeta(**{k: entry[k] for k in allowed if k in entry and k not in ("aliases", "number")},
                                  number=entry.get("number", ""), aliases=tuple(aliases)))
    ids = [m.doc_id for m in metas]
    dupes = sorted({d for d in ids if ids.count(d) > 1})
    if dupes:
        raise CorpusError(f"{path}: duplicate doc_id {dupes}")
    for m in metas:
        if m.implements and m.implements not in ids:
            raise CorpusError(f"{path}: {m.doc_id}: field 'implements' names unknown doc_id {m.implements!r}")
    home = data.get("home_region")
    if home is not None and (not isinstance(home, str) or not home.strip()):
        raise CorpusError(f"{path}: 'home_region' must be the official name of an area, e.g. 巴彦淖尔市")
    return metas, home.strip() if home else None


def load_corrections(corpus_dir: Path) -> list[Correction]:
    path = corpus_dir / CORRECTIONS_FILE
    if not path.is_file():
        return []
    out = []
    with path.open(encoding="utf-8", newline="") as f:
        for n, row in enumerate(csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE), start=2):
            if not row.get("doc_id") or not row.get("original"):
                raise CorpusError(f"{path}:{n}: needs doc_id and original (tab-separated)")
            out.append(Correction(row["doc_id"], row["original"], row.get("corrected") or "", row.get("note") or ""))
    return out


def apply_corrections(doc_id: str, text: str, corrections: list[Correction]) -> str:
    for c in corrections:
        if c.doc_id != doc_id:
            continue
        if c.original not in text:
            log.warning("%s: correction %r -> %r no longer matches the text", doc_id, c.original, c.corrected)
            continue
        text = text.replace(c.original, c.corrected)
    return text


# Government files are often GB18030 (a superset of GBK and GB2312) or UTF-16; tried in this order.
_ENCODINGS = ("utf-8-sig", "utf-16", "gb18030")


def _looks_like_text(text: str) -> bool:
    """Mostly Chinese, letters, digits, punctuation and spaces: what a policy document is."""
    if not text.strip() or "\x00" in text:
        return False
    odd = sum(1 for ch in text if ch == "\ufffd" or (ch not in "\n\r\t" and unicodedata.category(ch) in ("Cc", "Co", "Cn", "Cs")))
    return odd <= 0.001 * len(text)


def read_document(corpus_dir: Path, meta: DocumentMeta) -> tuple[str, str]:
    """(the text, the encoding it was read in). CorpusError with what to do when it cannot be read."""
    path = corpus_dir / meta.file
    if not path.is_file():
        raise CorpusError(f"{path}: file named by doc_id {meta.doc_id!r} in {METADATA_FILE} not found")
    raw = path.read_bytes()
    for encoding in _ENCODINGS:
        if encoding == "utf-16" and not raw.startswith((b"\xff\xfe", b"\xfe\xff")):
            continue  # UTF-16 without a byte-order mark cannot be told from other bytes reliably
        try:
            text = raw.decode(encoding)
        except UnicodeDecodeError:
            continue
        if _looks_like_text(text):
            return text, encoding
    raise CorpusError(f"{path}: not readable as UTF-8, UTF-16 or GB18030 text; save it as UTF-8 "
                      f"(e.g. `iconv -f <encoding> -t UTF-8`)")


def load_corpus(corpus_dir: Path | str) -> Corpus:
    """Every document that can be read; one that cannot is skipped with a warning, and the rest serve."""
    corpus_dir = Path(corpus_dir)
    metas, home_region = read_metadata(corpus_dir)
    corrections = load_corrections(corpus_dir)
    known = {m.doc_id for m in metas}
    for c in corrections:
        if c.doc_id not in known:
            raise CorpusError(f"{corpus_dir / CORRECTIONS_FILE}: correction for unknown doc_id {c.doc_id!r}")
    reviews = load_reviews(corpus_dir)
    digest = hashlib.sha256()
    per_doc: dict[str, str] = {}
    articles: list[Article] = []
    problems: list[str] = []
    loaded: list[DocumentMeta] = []
    for meta in metas:
        try:
            text, encoding = read_document(corpus_dir, meta)
        except CorpusError as e:
            log.warning("skipped: %s", e)
            problems.append(f"skipped: {e}")
            continue
        if encoding != "utf-8-sig":
            note = f"{corpus_dir / meta.file}: read as {encoding.upper()}; convert it to UTF-8 to silence this"
            log.warning("%s", note)
            problems.append(f"converted: {note}")
        text = normalize_whitespace(apply_corrections(meta.doc_id, text, corrections))
        text = withhold(corpus_dir, meta.doc_id, text, reviews)  # lines addressing an AI stay out until reviewed
        parsed = parse_document(meta.doc_id, text)
        if not parsed:
            raise CorpusError(f"{corpus_dir / meta.file}: no text found")
        seen: set[tuple[int, ...]] = set()
        for a in parsed:
            if a.path in seen:
                raise CorpusError(f"{corpus_dir / meta.file}: heading {''.join(a.labels)} appears twice at the "
                                  f"same place ({a.id}); fix the numbering or add a correction in {CORRECTIONS_FILE}")
            seen.add(a.path)
        articles.extend(parsed)
        loaded.append(meta)
        one = hashlib.sha256(json.dumps(meta.__dict__, ensure_ascii=False, sort_keys=True).encode() + text.encode())
        per_doc[meta.doc_id] = one.hexdigest()[:16]
        digest.update(one.digest())
    if not loaded:
        raise CorpusError(f"{corpus_dir}: no document could be read: " + "; ".join(problems))
    return Corpus(tuple(loaded), tuple(articles), digest.hexdigest()[:16], per_doc, home_region, tuple(problems))
