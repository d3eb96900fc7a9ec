"""The page with an LLM configured (a scripted OpenAI-compatible server on 127.0.0.1, tests/fake_openai.py):
the grounded answer shows at once as the draft, the checked LLM answer replaces it; the LLM's
unverified text never reaches the page; a failing LLM leaves the grounded answer with the core's notice."""
import time

import pytest

from fake_openai import FakeOpenAI, Reply, by_keyword
from web_helpers import CHROMIUM, CHROMIUM_ARGS, running_server

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

QUESTION = "创业担保贷款有什么规定？"   # the grounded answer cites [1] nmg-2017-132:3.4, [2] byn-2018-49:3.10
DRAFT = ("各地要加大创业担保贷款工作力度，推动金融机构及时为符合条件的创业者发放创业担保贷款[1]。\n"
         "巴彦淖尔市还要优化创业担保贷款政策，降低反担保要求[2]。\n"
         "每人最高可贷30万元[1]。")          # the last sentence is not in the articles: removed when checked
CHECKED = DRAFT.rsplit("\n", 1)[0]


def script():
    return by_keyword({"创业担保贷款": Reply(DRAFT, chunk_delay=0.08, chunk_chars=4),
                       "退役军人": Reply(status=500)}, Reply("", status=500))


def test_service_streams_the_grounded_answer_then_the_checked_answer(assistant, tmp_path):
    from retrieval.answering.assistant import Assistant
    from retrieval.generation import LLMGenerator, LLMSettings
    from web.service import PolicyService
    from web.storage import Store

    with FakeOpenAI(script()) as fake:
        gen = LLMGenerator(LLMSettings(base_url=fake.base_url, model="qwen-test", api_key="sk-test", timeout=5.0,
                                       max_retries=0), assistant.corpus, assistant.retriever.tokenize)
        with_llm = Assistant(assistant.settings, assistant.corpus, assistant.embedder, assistant.index,
                             assistant.retriever, assistant.composer, gen)
        service = PolicyService(with_llm, Store(tmp_path / "f.sqlite3"))
        events = list(service.ask_events(QUESTION))
    kinds = [k for k, _ in events]
    assert kinds[0] == "draft" and kinds[-1] == "final" and kinds.count("draft") >= 2   # re-sent while waiting
    grounded = assistant.ask(QUESTION).answer
    assert all(v == grounded for k, v in events if k == "draft")   # never the LLM's unverified text
    final = events[-1][1]
    assert final.generator == "llm" and final.answer == CHECKED and "30万" not in final.answer
    assert [c.id for c in final.citations] == ["nmg-2017-132:3.4", "byn-2018-49:3.10"]


@pytest.fixture(scope="module")
def fake_llm():
    with FakeOpenAI(script()) as fake:
        yield fake


@pytest.fixture(scope="module")
def server(tmp_path_factory, fake_llm):
    env = {"LLM_BASE_URL": fake_llm.base_url, "LLM_MODEL": "qwen-test", "LLM_API_KEY": "sk-test",
           "LLM_TIMEOUT": "5", "LLM_MAX_RETRIES": "0"}
    with running_server(tmp_path_factory.mktemp("web-llm"), extra_env=env) as srv:
        yield srv


def test_startup_does_not_call_the_llm(server, fake_llm):
    assert fake_llm.requests == []


@pytest.mark.browser
def test_chat_shows_the_draft_then_the_checked_answer(server, fake_llm):
    from playwright.sync_api import sync_playwright
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(locale="zh-CN")
        page.set_default_timeout(30_000)
        page.goto(server.url, wait_until="domcontentloaded")
        page.wait_for_selector("#pa-chat")
        box = page.locator("#pa-question textarea")
        box.fill(QUESTION)
        box.press("Enter")
        draft = page.locator("#pa-chat .pa-draft")
        draft.wait_for()
        assert "核对条文后显示最终内容" in draft.inner_text() and "30万" not in draft.inner_text()
        page.wait_for_selector("#pa-chat .pa-answer:not(.pa-draft) .pa-cite")
        final = page.locator("#pa-chat .pa-answer").last
        text = final.inner_text()
        assert "巴彦淖尔市还要优化创业担保贷款政策" in text and "30万" not in text
        assert page.locator("#pa-chat .pa-draft").count() == 0
        assert fake_llm.requests and fake_llm.requests[-1].get("stream") is True

        # the LLM fails: the grounded excerpt, with the core's notice
        page.wait_for_function("!document.querySelector('#pa-question textarea').disabled")
        box.fill("退役军人就业创业有什么政策？")
        box.press("Enter")
        page.wait_for_function("document.querySelectorAll('#pa-chat .pa-answer:not(.pa-draft)').length >= 2")
        failed = page.locator("#pa-chat .pa-answer").last
        assert failed.locator(".pa-note").count() == 1 and "政策原文摘录" in failed.inner_text()
        assert failed.locator(".pa-cite").count() >= 1
        browser.close()


def test_json_api_uses_the_llm(server):
    from web_helpers import http_json
    started = time.monotonic()
    status, body = http_json("POST", server.url + "/api/ask", {"question": QUESTION})
    assert status == 200 and body["generator"] == "llm" and body["answer"] == CHECKED
    assert time.monotonic() - started < 15
