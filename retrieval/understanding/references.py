"""What a question names: documents (by their declared names) and articles or chapters (by number)."""
from __future__ import annotations

import re
from collections.abc import Sequence

from retrieval.documents.text import CN_NUMERAL, cn_to_int, int_to_cn, longest_matches
from retrieval.types import Article, DocumentMeta

# ---------------------------------------------------------------- documents named in a question

def document_aliases(meta: DocumentMeta) -> set[str]:
    """The names a document declares: title, short name, aliases and number. Nothing is derived from
    its level, its issuer or the ending of its title, which other documents share."""
    names = {meta.title, meta.short_name, *meta.aliases}
    if meta.number:
        names.add(meta.number)
        names.add(re.sub(r"[〔〕\[\]（）()]", "", meta.number))
        serial = re.search(r"(\d+)号$", meta.number)
        if serial:
            names.add(serial.group(0))  # 巴政发〔2018〕49号 is called 49号 (a number two documents share names neither)
    return {n for n in names if n and len(n) >= 2}


class DocumentNames:
    """The declared names of a set of documents, found by looking up the question's substrings."""

    def __init__(self, documents: Sequence[DocumentMeta]):
        self.order = {d.doc_id: i for i, d in enumerate(documents)}
        self.owners: dict[str, set[str]] = {}
        for d in documents:
            for a in document_aliases(d):
                self.owners.setdefault(a, set()).add(d.doc_id)
        self.lengths = sorted({len(a) for a in self.owners}, reverse=True)

    def found(self, text: str) -> list[str]:
        """Names that occur in the text, longest first; a name inside a longer one found is not counted."""
        return list(dict.fromkeys(name for _, name in longest_matches(text, self.owners, self.lengths)))

    def named(self, text: str) -> list[str]:
        """doc_ids the text names, in corpus order; a name shared by several documents names none."""
        ids = {d for a in self.found(text) if len(self.owners[a]) == 1 for d in self.owners[a]}
        return sorted(ids, key=self.order.__getitem__)

    def strip(self, text: str) -> str:
        for alias in self.found(text):
            text = text.replace(alias, " ")
        return re.sub(r"\s+", " ", text).strip()


# a law or regulation a question names by its own name: in 《》, or a name ending in 法 or 条例 ("劳动合同法
# 第三十九条", "按社会保险法"). A name is a run of characters without a pronoun, preposition, particle or
# conjunction in it; words that end in 法 without naming a law (办法, 合法, 提法…) are not names
_TITLED = re.compile(r"《([^《》]{2,40})》")
_LAW_NAME = re.compile(r"((?:中华人民共和国)?[^\s，,。？?！!、；;：:“”\"《》我你他她们按照据依对在从用拿查问看请想那这的了和与及或是"
                       r"各有么啥说给被把让向跟]{2,12}(?:法(?![律定人规院官治制庭令典学务术师])|条例))")
_NOT_A_LAW = re.compile(r"(办法|方法|做法|合法|依法|违法|非法|无法|想法|看法|说法|提法|设法|执法|守法|用法|写法|算法|"
                        r"手法|司法|立法|疗法|语法|书法|打法|玩法|犯法|不法|章法|效法|枉法|变法|没法)$")


def laws_named(text: str) -> list[str]:
    """Names of laws and regulations the text gives ("劳动合同法", 《社会保险法》), whether loaded or not."""
    names = [m.group(1).strip() for m in _TITLED.finditer(text)]
    bare = _TITLED.sub(" ", text)
    names += [m.group(1) for m in _LAW_NAME.finditer(bare) if not _NOT_A_LAW.search(m.group(1))]
    return list(dict.fromkeys(names))


# ---------------------------------------------------------------- article and chapter references

_NUM = rf"(?:\d{{1,3}}|[{CN_NUMERAL}]{{1,4}})"
_TWO_LEVEL = (
    re.compile(rf"第\s*({_NUM})\s*(?:部分|章|节|大条|项)\s*(?:的)?\s*第?\s*[（(]?\s*({_NUM})\s*[）)]?\s*(?:条|款|项|点)"),
    re.compile(rf"(?<![\d{CN_NUMERAL}])({_NUM})\s*[、.．]?\s*[（(]\s*({_NUM})\s*[）)]"),
    re.compile(r"(?<![\d.])(\d{1,2})\.(\d{1,2})(?![\d.])"),
)
_ONE_LEVEL = (
    re.compile(rf"第\s*[（(]?\s*({_NUM})\s*[）)]?\s*条"),
    re.compile(rf"(?<![{CN_NUMERAL}\d、])[（(]\s*({_NUM})\s*[）)]"),
)
_CHAPTER = re.compile(rf"第\s*({_NUM})\s*(章|部分|节)(?!\s*(?:的)?\s*第)")


def number_of(text: str) -> int | None:
    try:
        return cn_to_int(text)
    except ValueError:
        return None


class ArticleLookup:
    """Articles by the numbers people use for them, built once per corpus."""

    def __init__(self, articles: Sequence[Article]):
        self.by_pair: dict[tuple[int, int], list[Article]] = {}
        self.by_number: dict[int, list[Article]] = {}
        self.chapters: dict[tuple[str, int], list[Article]] = {}   # (kind, number) -> articles
        self.count: dict[str, int] = {}
        self.numbered_throughout: set[str] = set()
        per_doc: dict[str, list[Article]] = {}
        for a in articles:
            per_doc.setdefault(a.doc_id, []).append(a)
            if len(a.path) >= 2:
                self.by_pair.setdefault((a.path[-2], a.path[-1]), []).append(a)
                top = a.labels[0]
                kind = "章" if top.endswith("章") else "节" if top.endswith("节") else "部分"
                self.chapters.setdefault((kind, a.path[0]), []).append(a)
        # how many top-level parts each document has, of which kind, and how many articles in each
        self.parts: dict[str, tuple[str, int]] = {}
        self.in_part: dict[tuple[str, int], int] = {}
        for (kind, number), arts in self.chapters.items():
            for a in arts:
                self.parts[a.doc_id] = (kind, max(number, self.parts.get(a.doc_id, (kind, 0))[1]))
                self.in_part[(a.doc_id, number)] = self.in_part.get((a.doc_id, number), 0) + 1
        for doc_id, own in per_doc.items():
            self.count[doc_id] = len(own)
            # a single number names an article only where a document numbers them uniquely
            if len({a.path[-1] for a in own}) == len(own):
                self.numbered_throughout.add(doc_id)
                for a in own:
                    self.by_number.setdefault(a.path[-1], []).append(a)

    def references(self, question: str, scope: Sequence[str] | None) -> tuple[list[str], list[tuple]]:
        """(article ids named, references that name nothing in scope): ("article", n) for 第n条,
        ("pair", part, n) for 第八部分第三条 or 二、（五）."""
        def allowed(arts: list[Article]) -> list[str]:
            return [a.id for a in arts if not scope or a.doc_id in scope]

        found: list[str] = []
        unknown: list[tuple] = []
        consumed = question
        for pattern in _TWO_LEVEL:
            for m in pattern.finditer(consumed):
                s, n = number_of(m.group(1)), number_of(m.group(2))
                if s is None or n is None:
                    continue
                hits = allowed(self.by_pair.get((s, n), []))
                if hits:
                    found.extend(h for h in hits if h not in found)
                elif pattern is not _TWO_LEVEL[-1]:  # 3.5 may be an amount; 第八部分第三条 names an article
                    unknown.append(("pair", s, n))
                else:
                    continue
                consumed = consumed.replace(m.group(0), " " * len(m.group(0)))
        for pattern in _ONE_LEVEL:
            for m in pattern.finditer(consumed):
                n = number_of(m.group(1))
                if n is None:
                    continue
                hits = allowed(self.by_number.get(n, []))
                found.extend(h for h in hits if h not in found)
                if not hits and pattern is _ONE_LEVEL[0]:
                    unknown.append(("article", n))
        if scope and len(found) > 1:
            # the same number in several documents: the first document in scope (the most local) is meant
            first = next(d for d in scope if any(f.startswith(d + ":") for f in found))
            found = [f for f in found if f.startswith(first + ":")]
        return found, unknown

    def chapter(self, question: str, scope: Sequence[str] | None) -> tuple[list[str], list[tuple]]:
        """(the articles of a chapter or part named without an article ('第三章说了什么'),
        ("chapter", kind, n) for one that no document in scope has)."""
        unknown: list[tuple] = []
        for m in _CHAPTER.finditer(question):
            n = number_of(m.group(1))
            arts = [a for a in self.chapters.get((m.group(2), n or -1), []) if not scope or a.doc_id in scope]
            if arts:
                first = scope[0] if scope and any(a.doc_id == scope[0] for a in arts) else arts[0].doc_id
                return [a.id for a in arts if a.doc_id == first], []
            if n:
                unknown.append(("chapter", m.group(2), n))
        return [], unknown

    @staticmethod
    def without_chapters(question: str) -> str:
        """The question without the chapters and parts it names."""
        return _CHAPTER.sub(" ", question)

    def missing(self, ref: tuple, candidates: Sequence[str], names: dict[str, str]) -> str | None:
        """What to tell a person about a reference that names nothing: '《就业促进法》共九章，没有第十章。'"""
        def part_count(d: str, kind: str) -> str:
            return f"共{int_to_cn(self.parts[d][1])}{'个部分' if kind == '部分' else kind}"

        if ref[0] == "chapter":
            _, kind, n = ref
            docs = [d for d in candidates if self.parts.get(d, ("", 0))[0] == kind] or \
                [d for d in self.parts if self.parts[d][0] == kind]
            if not docs:
                return f"收录的文件都不分{kind}，没有第{int_to_cn(n)}{kind}。"
            d = docs[0]
            return f"《{names[d]}》{part_count(d, kind)}，没有第{int_to_cn(n)}{kind}。"
        if ref[0] == "pair":
            _, part, n = ref
            docs = [d for d in candidates if d in self.parts] or list(self.parts)
            if not docs:
                return None
            d = docs[0]
            kind = self.parts[d][0]
            if part > self.parts[d][1]:
                return f"《{names[d]}》{part_count(d, kind)}，没有第{int_to_cn(part)}{kind}。"
            return (f"《{names[d]}》第{int_to_cn(part)}{kind}共{int_to_cn(self.in_part[(d, part)])}条，"
                    f"没有第{int_to_cn(n)}条。")
        n = ref[1]
        spoken = int_to_cn(n) if n < 1000 else str(n)
        docs = [d for d in candidates if d in self.numbered_throughout and n > self.count[d]]
        if docs:
            d = docs[0]
            return f"《{names[d]}》共{int_to_cn(self.count[d])}条，没有第{spoken}条。"
        by_part = [d for d in candidates if d not in self.numbered_throughout and d in self.parts]
        if candidates and len(by_part) == len(candidates):  # each part numbers its own articles
            d = by_part[0]
            kind = self.parts[d][0]
            return f"《{names[d]}》的条目按{kind}分别编号，请说明是第几{kind}的第{spoken}条。"
        return None
