"""The one public JSON API (web.api) in process, and the one admission control (web.admission):
typed models in the OpenAPI description, the core's messages for refused fields, 503 when full."""
import threading
import time

import pytest
from fastapi.testclient import TestClient

from web.admission import BUSY_MESSAGE, Admission, Busy


@pytest.fixture(scope="module")
def service(assistant, tmp_path_factory):
    from web.service import PolicyService
    from web.storage import Store
    store = Store(tmp_path_factory.mktemp("api") / "db.sqlite3")
    service = PolicyService(assistant, store, admission=Admission(workers=2, llm_slots=1, llm_wait=0.1,
                                                                  max_waiting=2))
    yield service
    store.close()


@pytest.fixture(scope="module")
def client(service):
    from retrieval.config import WebSettings
    from web.server import create_app
    return TestClient(create_app(service, mount_ui=False, web=WebSettings(openapi=True)))


def test_openapi_describes_the_typed_models(client):
    spec = client.get("/openapi.json").json()
    assert {"/api/ask", "/api/ask/text", "/api/feedback", "/api/search", "/api/articles/{article_id}",
            "/api/documents", "/healthz"} <= set(spec["paths"])
    schemas = spec["components"]["schemas"]
    assert {"AskRequest", "Turn", "AnswerOut", "Citation", "FeedbackRequest", "FeedbackOut", "SearchOut",
            "ArticleOut", "DocumentOut", "Error"} <= set(schemas)
    ask = spec["paths"]["/api/ask"]["post"]
    assert ask["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith("/AskRequest")
    assert ask["responses"]["200"]["content"]["application/json"]["schema"]["$ref"].endswith("/AnswerOut")
    assert {"400", "503"} <= set(ask["responses"])
    assert set(schemas["AnswerOut"]["required"]) >= {"question", "answer", "refused", "citations", "generator"}
    assert schemas["Turn"]["properties"]["role"]["enum"] == ["user", "assistant"]
    # the pages are not part of it
    assert not [p for p in spec["paths"] if "gradio" in p]
    docs = client.get("/docs")
    assert docs.status_code == 200 and "/openapi.json" in docs.text
    assert "cdn.jsdelivr.net" in docs.headers["Content-Security-Policy"]   # Swagger UI's own files, on this page only
    assert "cdn.jsdelivr.net" not in client.get("/healthz").headers["Content-Security-Policy"]


def test_answers_keep_the_shape_of_the_cli(client, assistant):
    reply = client.post("/api/ask", json={"question": "创业担保贷款有什么规定？"})
    assert reply.status_code == 200
    assert reply.json() == assistant.ask("创业担保贷款有什么规定？").to_dict()


@pytest.mark.parametrize("body, fragment", [
    ({"question": 42}, "问题必须是文字"),
    ({}, "问题必须是文字"),
    ({"question": "创业补贴", "history": [{"role": "robot", "content": "x"}]}, "对话历史的格式不对"),
    ({"question": "创业补贴", "doc_ids": {"a": 1}}, "doc_ids"),
])
def test_refused_fields_get_the_cores_message_not_an_echo(client, body, fragment):
    reply = client.post("/api/ask", json=body)
    assert reply.status_code == 400 and set(reply.json()) == {"error"} and fragment in reply.json()["error"]
    assert "robot" not in reply.text and "input" not in reply.json()


def test_feedback_ratings_are_typed_but_forgiving(client):
    assert client.post("/api/feedback", json={"rating": "👍", "question": "q", "answer": "a"}).json()["stored"]
    bad = client.post("/api/feedback", json={"rating": "meh", "question": "q"})
    assert bad.status_code == 400 and "评价只能是" in bad.json()["error"]


def test_a_full_house_gets_503_on_the_api(client, service):
    admission = service.admission
    with admission.admit(), admission.admit():            # both places taken (max_waiting=2)
        reply = client.post("/api/ask", json={"question": "创业担保贷款有什么规定？"})
        assert reply.status_code == 503 and reply.json() == {"error": BUSY_MESSAGE}
        assert reply.headers["Retry-After"] == "5"
        assert client.get("/api/search", params={"q": "创业"}).status_code == 503
    assert client.post("/api/ask", json={"question": "创业担保贷款有什么规定？"}).status_code == 200
    assert admission.inside == 0


def test_admission_slots():
    admission = Admission(workers=1, llm_slots=1, llm_wait=0.2, max_waiting=1)
    with admission.admit():
        with pytest.raises(Busy):
            with admission.admit():
                pass
    with admission.generation() as first:
        started = time.monotonic()
        with admission.generation() as second:
            assert first and not second and 0.15 < time.monotonic() - started < 2
    with admission.generation() as again:
        assert again                                       # given back
    held = threading.Event()
    release = threading.Event()

    def hold():
        with admission.grounded():
            held.set()
            release.wait(5)

    threading.Thread(target=hold, daemon=True).start()
    assert held.wait(5)
    assert not admission._cpu.acquire(timeout=0.1)         # the one CPU slot is taken
    release.set()
    with admission.grounded():
        pass
    with pytest.raises(ValueError):
        Admission(workers=0)


def test_a_full_house_gets_the_busy_message_on_the_page(service):
    """The page's answer handler passes through the same admission control as the API."""
    import copy

    from web.ui import NEW_STATE, build_resident
    demo = build_resident(service)
    (respond,) = [f.fn for f in demo.fns.values() if f.name == "respond"][:1]
    state = copy.deepcopy(NEW_STATE)
    with service.admission.admit(), service.admission.admit():
        *_, (messages, _, _) = list(respond("创业担保贷款有什么规定？", state))
    assert "pa-error" in messages[-1]["content"] and BUSY_MESSAGE in messages[-1]["content"]
    *_, (messages, state, _) = list(respond("创业担保贷款有什么规定？", state))
    assert "pa-cite" in messages[-1]["content"] and state["turns"][-2]["content"] == "创业担保贷款有什么规定？"
