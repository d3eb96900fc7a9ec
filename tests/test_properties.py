"""Property-based tests: no input makes the parser or the question path crash or hang."""
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from retrieval.documents.corpus import load_corpus
from retrieval.documents.parsing import parse_document
from retrieval.types import CorpusError, QuestionError

from conftest import write_corpus

HEADINGS = ["一、", "二、", "（一）", "（二）", "（十二）", "第一章", "第三条", "1.", "2．", "（1）", "第二节", "十、"]
line = st.one_of(
    st.text(max_size=80),
    st.builds(lambda h, t: h + t, st.sampled_from(HEADINGS), st.text(max_size=60)),
    st.sampled_from(["（市人社局、财政局等负责）", "各地区要抓好落实。", "", "　　", "\x00\x01", "（2016-2020）"]),
)
document = st.lists(line, max_size=40).map("\n".join)


@settings(max_examples=300, deadline=2000)
@given(document)
def test_parser_never_crashes(text):
    articles = parse_document("fuzz", text)
    for a in articles:
        assert a.path and all(isinstance(n, int) for n in a.path)
        assert "".join(a.sentences) == a.body


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(document)
def test_loading_any_text_either_works_or_says_why(tmp_path_factory, text):
    root = write_corpus(tmp_path_factory.mktemp("c"), {"fuzz": text})
    try:
        corpus = load_corpus(root)
    except CorpusError as e:
        assert "fuzz.txt" in str(e)
    else:
        assert len({a.id for a in corpus.articles}) == len(corpus.articles)


questions = st.one_of(
    st.text(max_size=300),
    st.text(alphabet=st.characters(min_codepoint=0x4E00, max_codepoint=0x9FFF), max_size=60),
    st.builds(lambda a, b: a + b, st.sampled_from(["细则第", "第四部分第", "四（", "多少钱", "那", "护照"]),
              st.text(max_size=20)),
    st.binary(max_size=200).map(lambda b: b.decode("utf-8", errors="replace")),
)


@pytest.mark.slow
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(q=questions, follow=st.booleans())
def test_question_path_never_crashes(assistant, q, follow):
    history = [{"role": "user", "content": q}, {"role": "assistant", "content": q[::-1]}] if follow else None
    try:
        ans = assistant.ask(q, history=history)
    except QuestionError as e:
        assert str(e)
    else:
        assert isinstance(ans.answer, str) and ans.answer
        assert ans.refused or ans.citations
