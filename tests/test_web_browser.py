"""The pages in a real headless Chromium: the residents' chat at /, the hotline console at /console,
at phone and desktop width, checked with axe-core (zero serious or critical violations).

Screenshots go to pytest's temporary folder (`artifacts0/` in /tmp/pytest-of-$USER/pytest-current/), or to
$SCREENSHOTS_DIR when that is set, for a person to look at.
"""
import json
import os
import re
import sqlite3
import time
from pathlib import Path

import pytest

from web_helpers import CHROMIUM, CHROMIUM_ARGS, ROOT, running_server

pytestmark = [pytest.mark.e2e, pytest.mark.browser, pytest.mark.slow]
ARTIFACTS = Path()  # set by _artifacts, below


@pytest.fixture(scope="module", autouse=True)
def _artifacts(tmp_path_factory):
    global ARTIFACTS
    ARTIFACTS = Path(os.environ.get("SCREENSHOTS_DIR") or tmp_path_factory.mktemp("artifacts"))
    ARTIFACTS.mkdir(parents=True, exist_ok=True)

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


def open_page(browser, server, width=1280, height=900, mobile=False, path="/", locale="zh-CN"):
    ctx = browser.new_context(viewport={"width": width, "height": height}, is_mobile=mobile, has_touch=mobile,
                              locale=locale)
    ctx.grant_permissions(["clipboard-read", "clipboard-write"])
    page = ctx.new_page()
    page.set_default_timeout(TIMEOUT)
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    # the page runs under the server's Content-Security-Policy: anything it blocks is an error here
    page.on("console", lambda m: "Content Security Policy" in m.text and errors.append(m.text))
    page.goto(server.url + path, wait_until="domcontentloaded")
    page.wait_for_selector("#pa-search" if path.startswith("/console") else "#pa-chat")
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
    # welcome: the loaded documents (from the metadata), what is not covered, examples to click
    for meta in json.loads((ROOT / "corpus" / "documents.json").read_text(encoding="utf-8"))["documents"]:
        assert meta["short_name"] in chat.inner_text() and meta["short_name"] in page.locator(".pa-header").inner_text()
    assert "12333" in chat.inner_text()
    width = page.locator("#pa-main").bounding_box()["width"]
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
    assert "政策牵头部门：自治区财政厅" in body and "内政发〔2017〕132号" in body and "第三部分第（四）条" in body
    assert page.locator("#pa-main").bounding_box()["width"] == width  # no sideways jump
    # the answering article is short: quoted whole (no second copy under 查看条文全文), with the sentence
    # the direct answer rests on marked
    assert cites.first.locator("details.pa-full").count() == 0
    assert "适时设立自治区高校毕业生就业创业基金" in quote.inner_text()
    assert quote.locator("mark").count() >= 1 and "创业担保贷款" in quote.locator("mark").first.inner_text()
    page.screenshot(path=str(ARTIFACTS / "chat-desktop-answer.png"), full_page=True)

    # follow-up uses the conversation
    follow = ask(page, "巴彦淖尔市呢？")
    assert "第（十）条" in follow.inner_text() and "巴彦淖尔市实施细则" in follow.inner_text()

    # focus stays in the question box; the new answer's start is in view
    page.wait_for_function("document.activeElement === document.querySelector('#pa-question textarea')", timeout=5000)
    page.wait_for_timeout(300)
    top = follow.bounding_box()["y"]
    chat_box = page.locator("#pa-chat").bounding_box()
    assert chat_box["y"] - 1 <= top <= chat_box["y"] + chat_box["height"] - 60  # its start, not its end

    # copy answer: the plain text with full citations, from the button under the answer
    follow.locator(".pa-copy-btn").click()
    page.wait_for_function("document.querySelector('#pa-chat .pa-answer:last-of-type .pa-copy-btn') === null || "
                           "[...document.querySelectorAll('.pa-copy-btn')].some(b => b.textContent === '已复制')")
    copy_text = page.evaluate("navigator.clipboard.readText()")
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
    chat.get_by_role("button", name="没帮助").last.click()
    rows = wait_rows(server, 1)
    assert rows, "feedback was not stored"
    rating, question, _answer, citation_ids, source = rows[-1]
    assert rating == "down" and source == "chat"
    assert ID_CARD not in question and PHONE not in question and "[身份证号]" in question and "[手机号]" in question
    assert isinstance(json.loads(citation_ids), list)

    page.screenshot(path=str(ARTIFACTS / "chat-desktop-end.png"), full_page=True)
    assert no_horizontal_scroll(page)

    # the feedback confirmation is in Chinese
    page.wait_for_selector(".toast-body, [data-testid='toast-body']")
    toast = page.locator(".toast-body, [data-testid='toast-body']").first.inner_text()
    assert "已收到" in toast and "Info" not in toast

    # clearing asks first: cancel keeps the conversation, confirm clears it; only one way to clear
    assert page.locator("#pa-chat .icon-button-wrapper.top-panel").filter(has=page.locator("button:visible")).count() == 0
    n = page.locator("#pa-chat .pa-answer").count()
    page.locator("#pa-clear").click()
    assert page.locator("#pa-clear-dialog").is_visible()
    page.locator("#pa-clear-cancel").click()
    assert page.locator("#pa-chat .pa-answer").count() == n
    page.locator("#pa-clear").click()
    page.locator("#pa-clear-ok").click()
    page.wait_for_function("document.querySelectorAll('#pa-chat .pa-answer').length === 0")
    assert not page.errors, page.errors


def test_console_desktop(browser, server):
    page = open_page(browser, server, path="/console")
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
    assert "政策牵头部门：自治区财政厅" in text and "本条由下列条款落实" in text and "拓宽融资渠道" in text

    # open it in the viewer, then jump to its counterpart and back
    first.locator(".pa-actions a.pa-open").click()
    viewer = page.locator("#pa-viewer")
    page.wait_for_function("document.querySelector('#pa-viewer h2')?.textContent.includes('拓宽投融资渠道')")
    assert "政策牵头部门：自治区财政厅" in viewer.inner_text()
    viewer.locator("details.pa-cp-item summary").first.click()
    viewer.locator('a.pa-open[data-article="byn-2018-49:3.10"]').click()
    page.wait_for_function("document.querySelector('#pa-viewer h2')?.textContent.includes('拓宽融资渠道')")
    assert "本条落实的上级条款" in viewer.inner_text() and "政策牵头部门：市财政局" in viewer.inner_text()

    # the table of contents opens any article
    page.locator('#pa-toc-acc a[data-article="nmg-2017-132:4.3"]').click()
    page.wait_for_function("document.querySelector('#pa-viewer h2')?.textContent.includes('推动农牧民转移就业')")
    assert "第（十三）条" in viewer.inner_text()  # its city counterpart, found by the system

    # the article list filters as you type; opening one brings the viewer into view
    page.locator("#pa-find").fill("第十二条")
    visible = page.locator("#pa-find-list li:not([hidden])")
    assert visible.count() >= 1 and all("十二" in t for t in visible.all_inner_texts())
    page.evaluate("window.scrollTo(0, document.body.scrollHeight)")
    visible.first.locator("a").click()
    page.wait_for_function("document.querySelector('#pa-viewer h2')?.textContent.includes('（十二）')")
    page.wait_for_timeout(800)  # the smooth scroll
    assert -2 <= page.locator("#pa-viewer-box").bounding_box()["y"] < 900 / 2

    page.screenshot(path=str(ARTIFACTS / "console-desktop.png"), full_page=True)

    # draft a reply for a caller: plain text with a copy button
    page.get_by_text("代答：为来电者生成可复制的答复").click()
    page.wait_for_selector("#pa-scope")  # the document scope lives here, not on the residents' page
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

    page = open_page(browser, server, width=390, height=844, mobile=True, path="/console")
    search = page.locator("#pa-search textarea, #pa-search input").first
    search.fill("稳岗补贴")
    page.wait_for_selector("#pa-results details.pa-card mark")
    page.locator("#pa-results details.pa-card summary").first.click()
    assert no_horizontal_scroll(page)
    page.screenshot(path=str(ARTIFACTS / "console-phone.png"), full_page=False)
    assert not page.errors, page.errors


def test_console_search_counts_honestly(browser, server):
    page = open_page(browser, server, path="/console")
    search = page.locator("#pa-search textarea, #pa-search input").first
    search.fill("稳岗补贴")
    page.wait_for_selector("#pa-results .pa-count")
    page.wait_for_function("document.querySelector('#pa-results .pa-count').textContent.includes('稳岗补贴')")
    head = page.locator("#pa-results .pa-count").first.inner_text()
    m = re.fullmatch(r"(\d+) 条含“稳岗补贴”(?:，另有 (\d+) 条相关)?", head)
    assert m, head
    cards = page.locator("#pa-results details.pa-card")
    exact = int(m.group(1))
    # each card's own article text (not the counterpart article shown inside it)
    texts = [c.evaluate("e => e.querySelector('.pa-ctitle').textContent + [...e.querySelectorAll("
                        "':scope > .pa-cbody > .pa-text')].map(p => p.textContent).join('')") for c in cards.all()]
    assert all("稳岗补贴" in t for t in texts[:exact])            # the counted ones contain the phrase
    assert not any("稳岗补贴" in t for t in texts[exact:])        # the others are only related
    assert cards.count() == exact + int(m.group(2) or 0)
    search.fill("护照办理")  # 办理 alone is not a match for 护照办理
    page.wait_for_function("document.querySelector('#pa-results .pa-count').textContent.includes('护照办理')")
    assert page.locator("#pa-results .pa-count").first.inner_text().startswith("没有条款含“护照办理”")
    assert page.locator("#pa-results details.pa-card:not(.pa-weak)").count() == 0


def english_labels(page):
    labels = page.evaluate("[...document.querySelectorAll('[aria-label],[title]')].filter(e => e.offsetParent)"
                           ".map(e => (e.getAttribute('aria-label') || '') + ' ' + (e.getAttribute('title') || ''))")
    assert not [label for label in labels if re.search(r"[A-Za-z]{3,}", label)], labels


def test_residents_page_has_no_leftovers_and_is_usable(browser, server):
    # an English browser: Gradio's own labels would be English; the page shows Chinese ones
    page = open_page(browser, server, width=390, height=844, mobile=True, locale="en-US")
    assert page.locator("#pa-scope").count() == 0 and page.get_by_role("tab", name="热线坐席").count() == 0
    assert page.evaluate("document.documentElement.lang") == "zh-CN"
    page.wait_for_selector("#pa-question textarea")  # on a busy machine the page may still be rendering
    assert page.evaluate("parseFloat(getComputedStyle(document.querySelector('#pa-question textarea')).fontSize)") >= 16
    english_labels(page)  # the welcome screen and its example buttons
    answer = ask(page, "创业担保贷款有什么规定？")
    body = page.locator("body").inner_text()
    assert "API" not in body and "Gradio" not in body and not re.search(r"\d+\.\d+\s*s\b", body)
    english_labels(page)
    # touch targets of 44 px: feedback, copy, the tools, send, citation headers
    for sel in ["#pa-chat .pa-answer .pa-copy-btn", "#pa-large", "#pa-clear", "#pa-question button",
                "#pa-chat details.pa-cite > summary"]:
        box = page.locator(sel).first.bounding_box()
        assert box["height"] >= 43.5 and box["width"] >= 43.5, (sel, box)
    for button in page.locator("#pa-chat").get_by_role("button", name=re.compile("有帮助|没帮助")).all():
        box = button.bounding_box()
        assert box["height"] >= 43.5 and box["width"] >= 43.5, box
    assert answer.locator("sup.pa-ref").count() >= 1

    # 大字: larger text, remembered after a reload
    size = page.evaluate("parseFloat(getComputedStyle(document.querySelector('#pa-chat .message')).fontSize)")
    page.locator("#pa-large").click()
    assert page.locator("#pa-large").get_attribute("aria-pressed") == "true"
    assert page.evaluate("parseFloat(getComputedStyle(document.querySelector('#pa-chat .message')).fontSize)") > size
    page.reload()
    page.wait_for_selector("#pa-large")
    assert page.evaluate("document.documentElement.classList.contains('pa-large')")
    assert page.locator("#pa-large").get_attribute("aria-pressed") == "true"
    page.locator("#pa-large").click()

    # keyboard: from the question box, Tab reaches send, then 大字 and 清空对话, each with a visible focus ring
    page.locator("#pa-question textarea").focus()
    reached = []
    while "pa-clear" not in reached and len(reached) < 6:
        page.keyboard.press("Tab")
        reached.append(page.evaluate("document.activeElement.id || document.activeElement.textContent.trim()"))
        ring = page.evaluate("(() => { const s = getComputedStyle(document.activeElement);"
                             " return parseFloat(s.outlineWidth) > 0 && s.outlineStyle !== 'none' || s.boxShadow !== 'none'; })()")
        assert ring, reached[-1]
    assert reached.index("pa-large") < reached.index("pa-clear"), reached
    assert not page.errors, page.errors


@pytest.mark.parametrize("width, height", [(390, 844), (1366, 900)])
def test_accessibility_and_screenshots(browser, server, width, height):
    """axe-core on both pages, with an answer on screen and a citation open (residents) and with
    results, an open result and an article shown (console): no serious or critical violations."""
    from axe_playwright_python.sync_playwright import Axe
    axe = Axe()
    mobile = width < 600
    page = open_page(browser, server, width=width, height=height, mobile=mobile)
    answer = ask(page, "企业不裁员能拿到什么补贴？")
    answer.locator("details.pa-cite > summary").first.click()
    answer.locator("blockquote.pa-quote").first.wait_for(state="visible")
    page.screenshot(path=str(ARTIFACTS / f"residents-{width}.png"))
    serious = [v for v in axe.run(page).response["violations"] if v["impact"] in ("serious", "critical")]
    assert not serious, [(v["id"], [n["target"] for n in v["nodes"]]) for v in serious]

    page = open_page(browser, server, width=width, height=height, mobile=mobile, path="/console")
    page.locator("#pa-search textarea, #pa-search input").first.fill("稳岗补贴")
    page.wait_for_selector("#pa-results details.pa-card mark")
    page.locator("#pa-results details.pa-card > summary").first.click()
    page.locator("#pa-results details.pa-card[open] .pa-actions a.pa-open").first.click()
    page.wait_for_selector("#pa-viewer h2")
    page.get_by_text("代答：为来电者生成可复制的答复").click()  # and a drafted reply on screen
    page.locator("#pa-draft-q textarea").fill("稳岗补贴有什么规定？")
    page.locator("#pa-draft-q textarea").press("Enter")
    page.wait_for_function("document.querySelector('#pa-draft-out textarea')?.value.includes('依据：')")
    page.evaluate("window.scrollTo(0, 0)")
    page.wait_for_timeout(800)
    page.screenshot(path=str(ARTIFACTS / f"console-{width}.png"), full_page=True)
    serious = [v for v in axe.run(page).response["violations"] if v["impact"] in ("serious", "critical")]
    assert not serious, [(v["id"], [n["target"] for n in v["nodes"]]) for v in serious]
