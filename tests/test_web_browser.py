"""The page in a real headless Chromium: chat with citations, feedback, console search and browsing, phone width.

Screenshots of each tab go to tests/artifacts/ (git-ignored) for a person to look at.
"""
import json
import re
import sqlite3
import time

import pytest

from web_helpers import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, running_server

pytestmark = [pytest.mark.browser, pytest.mark.slow]

TIMEOUT = 30_000  # ms
ID_CARD, PHONE = "11010519491231002X", "13812345678"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with running_server(tmp_path_factory.mktemp("web-browser")) as srv:
        yield srv


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


def open_page(browser, server, width=1280, height=900, mobile=False):
    ctx = browser.new_context(viewport={"width": width, "height": height}, is_mobile=mobile, has_touch=mobile,
                              locale="zh-CN")
    page = ctx.new_page()
    page.set_default_timeout(TIMEOUT)
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    # the page runs under the server's Content-Security-Policy: anything it blocks is an error here
    page.on("console", lambda m: "Content Security Policy" in m.text and errors.append(m.text))
    page.goto(server.url, wait_until="domcontentloaded")
    page.wait_for_selector("#pa-chat")
    page.errors = errors
    return page


def ask(page, question):
    before = page.locator("#pa-chat .pa-answer").count()
    page.locator("#pa-question textarea").fill(question)
    page.locator("#pa-question textarea").press("Enter")
    page.wait_for_function(f"document.querySelectorAll('#pa-chat .pa-answer').length > {before}")
    page.wait_for_function("!document.querySelector('#pa-question textarea').disabled")
    return page.locator("#pa-chat .pa-answer").last


def feedback_rows(server):
    if not server.feedback_db.exists():
        return []
    try:
        return sqlite3.connect(server.feedback_db).execute(
            "SELECT rating, question, answer, citation_ids, source FROM feedback ORDER BY id").fetchall()
    except sqlite3.OperationalError:  # the file is there, the table not yet
        return []


def wait_rows(server, n, timeout=15.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        rows = feedback_rows(server)
        if len(rows) >= n:
            return rows
        time.sleep(0.2)
    return feedback_rows(server)


def no_horizontal_scroll(page):
    return page.evaluate("document.scrollingElement.scrollWidth <= window.innerWidth + 1")


def test_chat_desktop(browser, server):
    page = open_page(browser, server)
    chat = page.locator("#pa-chat")
    # welcome: what is covered, what is not, examples to click
    assert "自治区实施意见" in chat.inner_text() and "12333" in chat.inner_text()
    page.get_by_text("创业担保贷款有什么规定？").first.click()
    answer = chat.locator(".pa-answer").last
    answer.wait_for()
    assert answer.locator("sup.pa-ref").count() >= 2
    assert "创业担保贷款" in answer.inner_text()
    cites = answer.locator("details.pa-cite")
    assert cites.count() >= 2
    # a citation opens in place: quote, department, document
    quote = cites.first.locator("blockquote.pa-quote")
    assert not quote.is_visible()
    cites.first.locator("summary").first.click()
    quote.wait_for(state="visible")
    body = cites.first.inner_text()
    assert "牵头：自治区财政厅" in body and "内政发〔2017〕132号" in body and "第三部分第（四）条" in body
    cites.first.locator("details.pa-full > summary").click()
    assert "适时设立自治区高校毕业生就业创业基金" in cites.first.inner_text()
    page.screenshot(path=str(ARTIFACTS / "chat-desktop-answer.png"), full_page=True)

    # follow-up uses the conversation
    follow = ask(page, "巴彦淖尔市呢？")
    assert "第（十）条" in follow.inner_text() and "巴彦淖尔市实施细则" in follow.inner_text()

    # copy answer: the plain text with full citations
    page.get_by_text("复制回答（纯文本，含完整出处）").click()
    copy_text = page.locator("#pa-copy textarea").input_value()
    assert copy_text.startswith("问：巴彦淖尔市呢？") and "依据：" in copy_text and "byn-2018-49:3.10" in copy_text

    # declining is explicit and names the hotline
    refused = ask(page, "怎么申请公租房？")
    assert "没有找到" in refused.inner_text() and "12333" in refused.inner_text()

    # a question that cannot be read gets a friendly message, not an empty bubble
    err = ask(page, "？？？？？！！！")
    assert "请用中文" in err.inner_text()

    # 👎 on an answer to a question with personal numbers is stored, redacted
    personal = ask(page, f"我身份证{ID_CARD}，电话{PHONE}，退役军人创业有什么扶持？")
    assert personal.inner_text()
    # the question is shown as the assistant read it: the numbers are not kept, not even on the page
    chat_html = page.locator("#pa-chat").inner_html()
    assert ID_CARD not in chat_html and PHONE not in chat_html and "[身份证号]" in chat_html
    chat.get_by_role("button", name=re.compile("^(踩|Dislike)$")).last.click()
    rows = wait_rows(server, 1)
    assert rows, "feedback was not stored"
    rating, question, _answer, citation_ids, source = rows[-1]
    assert rating == "down" and source == "chat"
    assert ID_CARD not in question and PHONE not in question and "[身份证号]" in question and "[手机号]" in question
    assert isinstance(json.loads(citation_ids), list)

    page.screenshot(path=str(ARTIFACTS / "chat-desktop-end.png"), full_page=True)
    assert no_horizontal_scroll(page)

    # clearing starts over
    page.locator("#pa-clear").click()
    page.wait_for_function("document.querySelectorAll('#pa-chat .pa-answer').length === 0")
    assert page.locator("#pa-copy textarea").input_value() == ""
    assert not page.errors, page.errors


def test_console_desktop(browser, server):
    page = open_page(browser, server)
    page.get_by_role("tab", name="热线坐席").click()
    search = page.locator("#pa-search textarea, #pa-search input").first
    started = time.monotonic()
    search.fill("退役军人")  # results appear as you type
    page.wait_for_selector("#pa-results details.pa-card mark")
    assert time.monotonic() - started < 5
    cards = page.locator("#pa-results details.pa-card")
    titles = cards.locator(".pa-ctitle").all_inner_texts()
    assert titles[:2] == ["促进退役军人就业创业"] * 2
    assert "退役军人" in cards.first.locator("mark").first.inner_text()

    # filter by document
    page.locator("#pa-doc-filter").get_by_text("巴彦淖尔市实施细则").click()
    page.wait_for_function("[...document.querySelectorAll('#pa-results .pa-card-head .pa-doc')].every("
                           "e => e.textContent.includes('巴彦淖尔'))")
    page.locator("#pa-doc-filter").get_by_text("全部文件").click()
    page.wait_for_function("[...document.querySelectorAll('#pa-results .pa-card-head .pa-doc')].some("
                           "e => e.textContent.includes('自治区'))")

    # search on Enter, open a result: full text, departments, counterpart
    search.fill("创业担保贷款")
    search.press("Enter")
    page.wait_for_function("document.querySelector('#pa-results .pa-ctitle')?.textContent.includes('拓宽投融资渠道')")
    first = page.locator("#pa-results details.pa-card").first
    first.locator(":scope > summary").click()
    text = first.inner_text()
    assert "牵头：自治区财政厅" in text and "本条由下列条款落实" in text and "拓宽融资渠道" in text

    # open it in the viewer, then jump to its counterpart and back
    first.locator(".pa-actions a.pa-open").click()
    viewer = page.locator("#pa-viewer")
    page.wait_for_function("document.querySelector('#pa-viewer h3')?.textContent.includes('拓宽投融资渠道')")
    assert "牵头：自治区财政厅" in viewer.inner_text()
    viewer.locator("details.pa-cp-item summary").first.click()
    viewer.locator('a.pa-open[data-article="byn-2018-49:3.10"]').click()
    page.wait_for_function("document.querySelector('#pa-viewer h3')?.textContent.includes('拓宽融资渠道')")
    assert "本条落实的上级条款" in viewer.inner_text() and "牵头：市财政局" in viewer.inner_text()

    # the table of contents opens any article
    page.locator('#pa-toc-acc a[data-article="nmg-2017-132:4.3"]').click()
    page.wait_for_function("document.querySelector('#pa-viewer h3')?.textContent.includes('推动农牧民转移就业')")
    assert "第（十三）条" in viewer.inner_text()  # its city counterpart, found by the system

    page.screenshot(path=str(ARTIFACTS / "console-desktop.png"), full_page=True)

    # draft a reply for a caller: plain text with a copy button
    page.get_by_text("代答：为来电者生成可复制的答复").click()
    page.locator("#pa-draft-q textarea").fill("稳岗补贴有什么规定？")
    page.locator("#pa-draft-q textarea").press("Enter")
    page.wait_for_function("document.querySelector('#pa-draft-out textarea')?.value.includes('依据：')")
    assert page.locator("#pa-draft-out").get_by_role("button", name=re.compile("复制|Copy")).count() >= 1
    assert not page.errors, page.errors


def test_phone(browser, server):
    page = open_page(browser, server, width=390, height=844, mobile=True)
    assert no_horizontal_scroll(page)
    answer = ask(page, "高校毕业生创业有哪些扶持政策？")
    assert answer.locator("details.pa-cite").count() >= 1
    answer.locator("details.pa-cite summary").first.click()
    answer.locator("blockquote.pa-quote").first.wait_for(state="visible")
    box = answer.bounding_box()
    assert box and box["x"] >= 0 and box["x"] + box["width"] <= 390 + 1
    assert no_horizontal_scroll(page)
    page.screenshot(path=str(ARTIFACTS / "chat-phone.png"), full_page=False)

    page.get_by_role("tab", name="热线坐席").click()
    search = page.locator("#pa-search textarea, #pa-search input").first
    search.fill("稳岗补贴")
    page.wait_for_selector("#pa-results details.pa-card mark")
    page.locator("#pa-results details.pa-card summary").first.click()
    assert no_horizontal_scroll(page)
    page.screenshot(path=str(ARTIFACTS / "console-phone.png"), full_page=False)
    assert not page.errors, page.errors
