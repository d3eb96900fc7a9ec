"""retrieval.documents.links: city articles paired with the regional articles they implement, found from the texts."""
import pytest

from retrieval.config import Settings
from retrieval.documents.corpus import Corpus, load_corpus
from retrieval.documents.links import MIN_OVERLAP, bigrams, candidates, counterparts, jaccard
from retrieval.types import Article, DocumentMeta, IndexStateError

pytestmark = pytest.mark.integration

REGION, CITY = "nmg-2017-132", "byn-2018-49"
EXPECTED_PAIRS = [("3.4", "3.10"), ("4.3", "4.13"), ("4.6", "4.17"), ("6.4", "6.27")]


@pytest.fixture(scope="module")
def settings():
    return Settings.load()


@pytest.fixture(scope="module")
def corpus(settings):
    return load_corpus(settings.corpus.dir)


@pytest.fixture(scope="module")
def index(settings, corpus):
    """The built dense index (loaded, no model needed); built first if missing or stale (slow, once)."""
    from retrieval.search.embeddings import embedder_for
    from retrieval.search.index import ensure_index, load_index

    embedder = embedder_for(settings.embedding)
    try:
        return load_index(settings.index.dir, corpus, embedder.name, settings.for_index())
    except IndexStateError:
        return ensure_index(settings.index.dir, corpus, embedder, settings=settings.for_index())


@pytest.mark.parametrize("region, city", EXPECTED_PAIRS)
def test_known_pairs_both_ways(corpus, index, region, city):
    links = counterparts(corpus, index)
    r, c = f"{REGION}:{region}", f"{CITY}:{city}"
    assert links[c] == [r]
    assert c in links[r]
    assert links[r][0] == c  # the best implementing article comes first


def test_city_only_article_has_no_partner(corpus, index):
    links = counterparts(corpus, index)
    assert f"{CITY}:4.15" not in links  # 完善城乡劳动者平等就业制度: no regional counterpart
    best = {c.article_id: c for c in candidates(corpus, index)}[f"{CITY}:4.15"]
    assert not best.accepted
    assert best.overlap < MIN_OVERLAP
    # and it is clearly weaker than every accepted pair
    weakest_kept = min(c.overlap for c in candidates(corpus, index) if c.accepted)
    assert best.overlap < 0.75 * weakest_kept


def test_every_city_article_is_considered_and_most_pair(corpus, index):
    cands = candidates(corpus, index)
    city_articles = [a.id for a in corpus.articles if a.doc_id == CITY]
    assert [c.article_id for c in cands] == city_articles
    assert all(c.implements_id.startswith(REGION + ":") for c in cands)
    assert sum(c.accepted for c in cands) >= len(city_articles) - 2


def test_regional_article_implemented_twice(corpus, index):
    """The city splits regional 6.4 (防范化解失业风险): 6.27 copies it, 1.4 takes its first sentence."""
    links = counterparts(corpus, index)
    assert links[f"{REGION}:6.4"] == [f"{CITY}:6.27", f"{CITY}:1.4"]


def test_same_pairs_without_an_index(corpus, index):
    assert counterparts(corpus, None) == counterparts(corpus, index)


def test_documents_without_implements_pair_nothing(corpus):
    docs = tuple(DocumentMeta(**{**m.__dict__, "implements": None}) for m in corpus.documents)
    assert counterparts(Corpus(docs, corpus.articles, "x")) == {}


def _article(doc, n, title, body):
    return Article(doc_id=doc, path=(n,), labels=(f"（{n}）",), title=title, body=body, sentences=(body,))


def test_threshold_on_a_small_corpus():
    meta = dict(file="f.txt", title="t", short_name="s", issuer="i", number="n", date="2018", level="地市级")
    docs = (DocumentMeta(doc_id="up", **meta), DocumentMeta(doc_id="down", implements="up", **meta))
    arts = (
        _article("up", 1, "扶持创业", "对首次创业的高校毕业生给予一次性创业补贴，由人社部门负责审核发放。"),
        _article("up", 2, "加强培训", "组织开展职业技能培训，提高劳动者就业能力和职业转换能力。"),
        _article("down", 1, "扶持创业", "对首次创业的高校毕业生给予一次性创业补贴，由市人社局负责审核发放。"),
        _article("down", 2, "治理沙漠", "因地制宜种植梭梭林，防风固沙，改善生态环境。"),
    )
    corpus = Corpus(docs, arts, "x")
    links = counterparts(corpus)
    assert links == {"down:1": ["up:1"], "up:1": ["down:1"]}


def test_bigrams_and_jaccard():
    assert bigrams("创业补贴。2018年") == {"创业", "业补", "补贴"}
    assert jaccard(frozenset(), frozenset()) == 0.0
    assert jaccard(bigrams("拓宽融资渠道"), bigrams("拓宽融资渠道")) == 1.0
