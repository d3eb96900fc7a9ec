"""web/guard.py in-process: the settings a test server does not exercise (POLICY_OPENAPI=on), and the
redacting standard streams."""
import io

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from web.guard import Guard, RedactingStream, carries_file, strict_json

pytestmark = pytest.mark.unit


def app_with(openapi: bool) -> TestClient:
    app = FastAPI()

    @app.get("/hello")
    def hello():
        return {"hello": "world"}

    app.add_middleware(Guard, openapi=openapi)
    return TestClient(app)


def test_openapi_is_published_only_when_switched_on(load_settings):
    assert app_with(False).get("/openapi.json").status_code == 404
    on = app_with(True).get("/openapi.json")
    assert on.status_code == 200 and "/hello" in on.json()["paths"]
    assert load_settings({}).web.openapi is False and load_settings({"POLICY_OPENAPI": "on"}).web.openapi is True
    with pytest.raises(ValueError, match="POLICY_OPENAPI must be on or off"):
        load_settings({"POLICY_OPENAPI": "maybe"})


def test_an_exception_in_the_app_is_a_json_500_without_traceback(caplog):
    app = FastAPI()

    @app.get("/boom")
    def boom():
        raise KeyError("fn_index 9999")

    app.add_middleware(Guard)
    reply = TestClient(app, raise_server_exceptions=False).get("/boom")
    assert reply.status_code == 500 and reply.json() == {"error": "服务暂时不可用，请稍后再试。"}
    assert "Traceback" not in caplog.text and "KeyError" in caplog.text
    assert "default-src 'self'" in reply.headers["content-security-policy"]


@pytest.mark.parametrize("raw", [b'{"a": NaN}', b'{"a": Infinity}', b'[1e400]', b'{"a": 1, "a": 1}',
                                 b'{"x": {"b": 1, "b": 2}}', b"\xff", b"[" * 3000 + b"]" * 3000])
def test_strict_json_refuses(raw):
    with pytest.raises(ValueError, match="请求内容"):
        strict_json(raw)


def test_strict_json_accepts_ordinary_json():
    assert strict_json('{"a": [1, 2.5, -1e10, "创业"], "b": null}'.encode()) == {"a": [1, 2.5, -1e10, "创业"], "b": None}


@pytest.mark.parametrize("value, found", [
    ({"path": "/etc/passwd", "meta": {"_type": "gradio.FileData"}}, True),
    ([[{"x": {"url": "http://x", "meta": {"_type": "gradio.FileData"}}}]], True),
    ({"path": "a", "orig_name": "b"}, True),
    ({"role": "user", "content": "path /etc/passwd"}, False),
    ({"path": "just a key"}, False),
    ({"url": "http://example.org"}, False),
])
def test_file_references_anywhere(value, found):
    assert carries_file(value) is found


def test_redacting_stream_redacts_whole_lines():
    out = io.StringIO()
    stream = RedactingStream(out)
    print("id=13812345678, environment=client", file=stream)
    stream.write("电话138")
    stream.write("12345678\n")
    stream.write("no newline 13912345678")
    stream.flush()
    text = out.getvalue()
    assert "13812345678" not in text and "13912345678" not in text and text.count("[手机号]") == 3
