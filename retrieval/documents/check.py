"""`python app.py check`: what in the corpus folder needs a person's attention after adding a document."""
from __future__ import annotations

from pathlib import Path

from retrieval.documents.corpus import Corpus
from retrieval.understanding.lexicon import load_out_of_scope, load_synonyms
from retrieval.understanding.places import gazetteer


def corpus_report(corpus: Corpus, lexicon: Path, home_region: str | None = None) -> list[str]:
    """One line per problem: files converted or skipped, documents without a known region, lexicon
    entries that contradict the documents. Empty when all is well."""
    out = list(corpus.problems)
    places = gazetteer()
    home = home_region or corpus.home_region
    if not home:
        out.append("documents.json: no home_region; questions that name no place search every document")
    elif places.resolve(home) is None:
        out.append(f"home region {home!r} is not an official area name (e.g. 巴彦淖尔市)")
    for d in corpus.documents:
        if not d.region:
            out.append(f"{d.doc_id}: no 'region' in documents.json; it is treated as applying in the home region")
        elif places.resolve(d.region) is None:
            out.append(f"{d.doc_id}: region {d.region!r} is not an official area name (全国, 内蒙古自治区, 巴彦淖尔市 …)")
    texts = [a.title + a.body for a in corpus.articles]
    for term, refer in load_out_of_scope(lexicon / "out_of_scope.tsv").items():
        hits = sum(all(w in t for w in term.split()) for t in texts)
        if hits:
            out.append(f"out_of_scope.tsv: {term!r} (→ {refer or '—'}) appears in {hits} article(s); "
                       f"questions asking about it are answered from them, not referred")
    for syn in load_synonyms(lexicon / "synonyms.tsv"):
        missing = [w for w in syn.document_words if not any(w in t for t in texts)]
        if missing:
            out.append(f"synonyms.tsv: {'/'.join(syn.resident_words)} → {'、'.join(missing)}: in no document")
    return out
