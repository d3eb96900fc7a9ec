"""BM25 over real jieba tokens, and its matrix kept between starts (index/lexical/)."""
import logging

import numpy as np
import pytest

from retrieval.corpus import load_corpus
from retrieval.lexical import BM25, Tokenizer, corpus_bm25

from conftest import ROOT


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
