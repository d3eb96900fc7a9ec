"""BM25 over real jieba tokens, and its matrix kept between starts (index/lexical/)."""
import logging

import numpy as np
import pytest

from retrieval.documents.corpus import load_corpus
from retrieval.search.lexical import BM25, Tokenizer, corpus_bm25

from conftest import ROOT

pytestmark = pytest.mark.integration


class CountingTokenizer(Tokenizer):
    """The real tokenizer, counting the texts it cuts."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.calls = 0

    def __call__(self, text):
        self.calls += 1
        return super().__call__(text)


@pytest.fixture(scope="module")
def corpus():
    return load_corpus(ROOT / "corpus")


def tokenizer(dictionary=ROOT / "corpus" / "lexicon" / "terms.txt"):
    return CountingTokenizer(dictionary)


def test_the_matrix_is_kept_and_read_back_without_tokenising(tmp_path, corpus):
    first = tokenizer()
    computed = corpus_bm25(corpus, first, tmp_path)
    assert first.calls >= len(corpus.articles) and len(list(tmp_path.glob("bm25-*.npz"))) == 1
    again = tokenizer()
    loaded = corpus_bm25(corpus, again, tmp_path)
    assert again.calls == 0
    query = again("创业担保贷款额度是多少")
    assert np.allclose(loaded.scores(query), computed.scores(query))
    assert loaded.scores(query).argmax() == computed.scores(query).argmax()
    doc = int(computed.scores(query).argmax())
    assert loaded.terms_in(doc, query) == computed.terms_in(doc, query) and "创业" in loaded.terms_in(doc, query)


def test_another_dictionary_is_another_cache(tmp_path, corpus):
    corpus_bm25(corpus, tokenizer(), tmp_path)
    other_dict = tmp_path / "terms.txt"
    other_dict.write_text("返乡创业 10 n\n", encoding="utf-8")
    fresh = tokenizer(other_dict)
    corpus_bm25(corpus, fresh, tmp_path)
    assert fresh.calls > 0  # not served the matrix of the other dictionary
    assert len(list(tmp_path.glob("bm25-*.npz"))) == 1  # the stale one is removed


def test_a_damaged_cache_is_recomputed(tmp_path, corpus, caplog):
    corpus_bm25(corpus, tokenizer(), tmp_path)
    (cache,) = tmp_path.glob("bm25-*.npz")
    cache.write_bytes(b"not a matrix")
    again = tokenizer()
    with caplog.at_level(logging.WARNING):
        bm25 = corpus_bm25(corpus, again, tmp_path)
    assert again.calls > 0 and bm25.n_docs == len(corpus.articles)
    assert "unreadable lexical cache" in caplog.text
    assert BM25.load(cache).n_docs == len(corpus.articles)  # rewritten whole


def test_an_unwritable_cache_folder_is_only_a_warning(tmp_path, corpus, caplog):
    blocker = tmp_path / "index"
    blocker.write_text("a file where the index folder should be", encoding="utf-8")
    with caplog.at_level(logging.WARNING):
        bm25 = corpus_bm25(corpus, tokenizer(), blocker / "lexical")
    assert bm25.n_docs == len(corpus.articles) and "cannot keep the lexical cache" in caplog.text


def _cache(tmp_path):
    (cache,) = tmp_path.glob("bm25-*.npz")
    return cache


@pytest.mark.parametrize("damage", ["flip", "truncate", "manifest", "no_manifest"])
def test_a_damaged_or_unlisted_cache_is_never_read(tmp_path, corpus, caplog, monkeypatch, damage):
    """A flipped byte or a cut file used to stop the app with zipfile.BadZipFile: now the SHA-256 in
    the manifest is checked before numpy opens the file, and the matrix is recomputed."""
    corpus_bm25(corpus, tokenizer(), tmp_path)
    cache = _cache(tmp_path)
    data = bytearray(cache.read_bytes())
    if damage == "flip":
        data[len(data) // 2] ^= 0x01
        cache.write_bytes(bytes(data))
    elif damage == "truncate":
        cache.write_bytes(bytes(data[: len(data) // 3]))
    elif damage == "manifest":
        (tmp_path / "manifest.json").write_text('{"files": {"%s": "%s"}}' % (cache.name, "0" * 64), encoding="utf-8")
    else:
        (tmp_path / "manifest.json").unlink()
    loads = []
    real_load = BM25.load
    monkeypatch.setattr(BM25, "load", classmethod(lambda cls, p: loads.append(p) or real_load(p)))
    again = tokenizer()
    with caplog.at_level(logging.WARNING):
        bm25 = corpus_bm25(corpus, again, tmp_path)
    assert loads == [] and again.calls > 0 and bm25.n_docs == len(corpus.articles)
    assert "unreadable lexical cache" in caplog.text
    assert corpus_bm25(corpus, tokenizer(), tmp_path).n_docs == len(corpus.articles)  # rewritten, listed again


def test_a_tampered_but_readable_cache_is_not_used(tmp_path, corpus, caplog):
    """A valid .npz put in place of the real one (other weights, same shape) is detected by its hash."""
    corpus_bm25(corpus, tokenizer(), tmp_path)
    cache = _cache(tmp_path)
    fake = BM25.from_documents([["补贴"]] * len(corpus.articles))
    fake.save(cache)
    with caplog.at_level(logging.WARNING):
        bm25 = corpus_bm25(corpus, tokenizer(), tmp_path)
    assert "does not match the SHA-256" in caplog.text
    assert "创业" in bm25.vocab  # the real matrix, recomputed


def test_rebuild_never_reads_the_old_file(tmp_path, corpus, monkeypatch):
    corpus_bm25(corpus, tokenizer(), tmp_path)
    _cache(tmp_path).write_bytes(b"PK\x03\x04 broken")
    monkeypatch.setattr(BM25, "load", classmethod(lambda cls, p: pytest.fail("read during a rebuild")))
    assert corpus_bm25(corpus, tokenizer(), tmp_path, rebuild=True).n_docs == len(corpus.articles)


def test_documents_outside_the_collection_searched_change_no_score_inside_it(corpus):
    """Another city's rules added to the index leave the scores of the documents searched as they were:
    idf and average length are taken over the collection searched (`within`)."""
    tok = tokenizer()
    docs = [tok(a.title) * 2 + tok(a.body) for a in corpus.articles]
    # other documents that use the local documents' words a lot: rarer words would weigh more globally
    others = [tok("本市对高校毕业生创业给予创业担保贷款和一次性创业补贴，就业困难人员享受岗位补贴。") for _ in range(40)]
    alone, together = BM25.from_documents(docs), BM25.from_documents(docs + others)
    mask = np.array([True] * len(docs) + [False] * len(others))
    query = tok("高校毕业生创业担保贷款有什么补贴")
    inside = together.within(mask)
    assert np.allclose(inside.scores(query)[:len(docs)], alone.scores(query), atol=1e-4)
    assert inside.idf_of("创业") == pytest.approx(alone.idf_of("创业"))
    # searched over everything, the added documents do shift the local scores
    assert not np.allclose(together.scores(query)[:len(docs)], alone.scores(query), atol=1e-4)


def test_phrase_share_counts_the_question_characters_a_text_holds_verbatim():
    from retrieval.search.lexical import PhraseIndex

    texts = ["将城镇新增就业、失业率作为宏观调控重要指标。", "加强统计监测，完善就业失业统计指标。", "无关的文字"]
    shares = PhraseIndex(texts).shares("城镇新增就业、失业率被作为什么指标？")
    # 城镇新增就业 (6 of 16 characters); 失业率 is a run of 3, too short to count
    assert shares[0] == pytest.approx(6 / 16)
    assert shares[1] == 0.0 and shares[2] == 0.0  # 指标 and 失业 alone are words, not phrases
    assert PhraseIndex(texts).shares("？！").tolist() == [0.0, 0.0, 0.0]  # nothing to match, no division by zero


def test_a_phrase_quoted_from_an_article_finds_it(corpus):
    from retrieval.search.lexical import PhraseIndex

    index = PhraseIndex([a.text for a in corpus.articles])
    article = corpus.articles[len(corpus.articles) // 2]
    phrase = max(article.sentences, key=len)[:12]
    shares = index.shares(f"请问，{phrase}是什么意思")
    mine = shares[corpus.articles.index(article)]
    assert mine == shares.max() >= 0.6  # its 12 characters of the 19 in the question
