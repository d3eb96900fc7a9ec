"""The baselines' own logic on a tiny corpus with a character-bag embedder (fast; no model is loaded)."""
from __future__ import annotations

import numpy as np
import pytest

from eval.baselines import (
    BM25Baseline,
    ChunkMapper,
    DenseBaseline,
    LangChainBaseline,
    Passage,
    articles_of_chunks,
    baseline_query,
    overlap_chars,
    shingles,
)

pytestmark = pytest.mark.unit

PASSAGES = [
    Passage("t:1.1", "创业担保贷款。对符合条件的个人创业者发放创业担保贷款，财政部门按规定给予贴息。"),
    Passage("t:1.2", "职业培训补贴。参加职业技能培训并取得证书的劳动者，按规定给予职业培训补贴。"),
    Passage("t:2.1", "高校毕业生就业见习。组织离校未就业高校毕业生参加就业见习，给予见习补贴。"),
]
RAW = ("测试市人民政府关于印发测试文件的通知。各旗县区人民政府，市直各有关部门："
       "经市政府同意，现将本文件印发给你们，请认真贯彻执行，抓好落实。\n\n"
       "一、支持创业\n\n（一）创业担保贷款。对符合条件的个人创业者发放创业担保贷款，财政部门按规定给予贴息。（财政局）\n\n"
       "（二）职业培训补贴。参加职业技能培训并取得证书的劳动者，按规定给予职业培训补贴。（人社局）\n\n"
       "二、促进就业\n\n（三）高校毕业生就业见习。组织离校未就业高校毕业生参加就业见习，给予见习补贴。（人社局）\n\n"
       "测试市人民政府办公室秘书科负责本文件的印制与分送工作，如有疑问请与办公室联系，联系时间为每个工作日上午九时至下午五时。\n2020年1月1日")


class CharBagEmbedder:
    """A stand-in embedder: normalised character counts, hashed into 512 dimensions."""
    name = "char-bag"
    dim = 512

    def _embed(self, texts):
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for i, t in enumerate(texts):
            for ch in t:
                out[i, ord(ch) % self.dim] += 1.0
        return out / np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-12)

    def embed_queries(self, texts):
        return self._embed(list(texts))

    def embed_passages(self, texts):
        return self._embed(list(texts))


def test_baseline_query_prefixes_the_previous_user_turn():
    history = [{"role": "user", "content": "自治区对创业担保贷款有什么政策？"},
               {"role": "assistant", "content": "……"},
               {"role": "user", "content": "高校毕业生呢？"},
               {"role": "assistant", "content": "……"}]
    assert baseline_query("城市的细则里怎么说？", history) == "高校毕业生呢？ 城市的细则里怎么说？"
    assert baseline_query("退伍兵找工作有啥政策", []) == "退伍兵找工作有啥政策"
    assert baseline_query("问题", [{"role": "assistant", "content": "只有回答"}]) == "问题"


def test_overlap_counts_characters_in_shared_runs_whitespace_ignored():
    article = shingles("对符合条件的个人创业者发放贷款", n=4)
    assert overlap_chars("对符合 条件的个人", article, n=4) == 8
    assert overlap_chars("完全不同的文字内容", article, n=4) == 0
    assert overlap_chars("条件的个", article, n=4) == 4
    assert overlap_chars("条件", article, n=4) == 0                      # shorter than a run


def test_chunks_map_to_the_article_they_overlap_most_or_to_none():
    mapper = ChunkMapper(PASSAGES, n=6, min_overlap=20)
    assert mapper("（二）职业培训补贴。参加职业技能培训并取得证书的劳动者，按规定给予职业培训补贴。（人社局）\n\n二、") == "t:1.2"
    # the end of one article and the start of the next: the larger share wins
    assert mapper("财政部门按规定给予贴息。（财政局）\n\n（二）职业培训补贴。参加职业技能培训并取得证书的劳动者") == "t:1.2"
    assert mapper("测试市人民政府文件\n\n一、支持创业") is None
    assert mapper("测试市人民政府\n2020年1月1日") is None


def test_articles_of_chunks_drops_unmapped_and_repeated_in_rank_order():
    assert articles_of_chunks(["a", None, "b", "a", "c", None]) == ["a", "b", "c"]
    assert articles_of_chunks(["a", "b", "c"], k=2) == ["a", "b"]
    assert articles_of_chunks([None, None]) == []


def test_bm25_baseline_ranks_the_article_with_the_query_words_first():
    b = BM25Baseline(PASSAGES, tokenize=lambda text: [ch for ch in text if "\u4e00" <= ch <= "\u9fff"])
    ranked = b.search("见习补贴")
    assert ranked[0] == "t:2.1" and sorted(ranked) == sorted(p.id for p in PASSAGES)
    assert b.search("见习补贴", k=1) == ["t:2.1"]


def test_dense_baseline_searches_whole_articles_with_faiss():
    b = DenseBaseline(PASSAGES, CharBagEmbedder())
    assert b.search("职业技能培训证书补贴")[0] == "t:1.2"
    assert len(b.search("任何问题", k=10)) == 3
    assert b.build_seconds >= 0


def test_langchain_baseline_splits_raw_files_and_maps_chunks_to_articles():
    from retrieval.search.embeddings import as_langchain

    b = LangChainBaseline([("test.txt", RAW)], PASSAGES, as_langchain(CharBagEmbedder()), chunk_size=80,
                          chunk_overlap=10)
    assert b.chunks >= 3 and b.unmapped >= 1                 # the header and the signature match no article
    ranked = b.search("离校未就业高校毕业生就业见习")
    assert ranked[0] == "t:2.1"
    assert len(ranked) == len(set(ranked)) <= 3
    assert "chunks" in b.describe()


@pytest.mark.parametrize("text", ["", "   "])
def test_an_empty_query_still_gets_a_ranking(text):
    b = BM25Baseline(PASSAGES, tokenize=lambda t: list(t.strip()))
    assert len(b.search(text)) == 3
