"""The small typed records passed between stages."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol


class CorpusError(Exception):
    """The corpus folder, its metadata or a document cannot be used as it is."""


class IndexStateError(Exception):
    """The index is missing, stale or damaged; rebuild with `python app.py index`."""


class QuestionError(ValueError):
    """A question that cannot be answered as typed (empty, too long, not text)."""


@dataclass(frozen=True)
class DocumentMeta:
    doc_id: str
    file: str
    title: str
    short_name: str
    issuer: str
    number: str                      # may be empty: not every document has one
    date: str
    level: str                       # 国家 | 省级 | 地市级 | 县级
    region: str = ""                 # official name of the area it applies in: 全国, 内蒙古自治区, 巴彦淖尔市
    implements: str | None = None
    aliases: tuple[str, ...] = ()

    @property
    def year(self) -> int | None:
        """The year it was issued, from `date` (2017, 2018-05-22)."""
        return int(self.date[:4]) if self.date[:4].isdigit() else None


@dataclass(frozen=True)
class Article:
    """One provision: the unit that is retrieved and cited."""
    doc_id: str
    path: tuple[int, ...]
    labels: tuple[str, ...]          # headings as printed, e.g. ("四、", "（三）")
    title: str                       # lead phrase, e.g. 推动农牧民转移就业
    body: str                        # text without the title and the departments
    sentences: tuple[str, ...]
    departments: tuple[str, ...] = ()
    section_titles: tuple[str, ...] = ()  # titles of the enclosing headings

    @property
    def id(self) -> str:
        return f"{self.doc_id}:{'.'.join(map(str, self.path))}"

    @property
    def lead_department(self) -> str | None:
        return self.departments[0] if self.departments else None

    @property
    def text(self) -> str:
        return f"{self.title}。{self.body}" if self.title else self.body


@dataclass(frozen=True)
class Hit:
    article_id: str
    score: float
    source: str = ""


@dataclass(frozen=True)
class Citation:
    id: str
    document: str
    article: str
    title: str
    quote: str
    lead_department: str | None
    departments: tuple[str, ...] = field(default=())


class Retriever(Protocol):
    def retrieve(self, query: str, top_k: int, doc_ids: Sequence[str] | None = None) -> list[Hit]: ...
