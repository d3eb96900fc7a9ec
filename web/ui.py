"""The Gradio page: residents' chat (tab 1), hotline console (tab 2), and the named API endpoints."""
from __future__ import annotations

import copy
import logging
import time
from pathlib import Path

import gradio as gr

from retrieval.answer import HOTLINE
from retrieval.privacy import redact
from retrieval.types import QuestionError

from . import render
from .service import PolicyService, notice_for

log = logging.getLogger(__name__)

STATIC = Path(__file__).resolve().parent / "static"

EXAMPLES = [
    "高校毕业生创业有哪些扶持政策？",
    "创业担保贷款有什么规定？",
    "退役军人就业创业有什么政策？",
    "农牧民外出打工有什么支持？",
    "灵活就业人员的社保怎么办？",
    "巴彦淖尔市对去产能企业职工怎么安置？",
]

# Links carrying data-article open that article in the console's viewer.
CLICK_JS = """
element.addEventListener('click', (e) => {
  const link = e.target.closest('[data-article]');
  if (!link) return;
  e.preventDefault();
  trigger('click', {article: link.dataset.article});
  const viewer = document.getElementById('pa-viewer-box');
  if (viewer && window.innerWidth < 900) viewer.scrollIntoView({behavior: 'smooth', block: 'start'});
});
"""

NEW_STATE = {"messages": [], "turns": [], "answers": {}}


def theme() -> gr.themes.Base:
    cjk = ["PingFang SC", "Hiragino Sans GB", "Microsoft YaHei", "Noto Sans CJK SC", "Source Han Sans SC",
           "WenQuanYi Micro Hei", "system-ui", "sans-serif"]
    return gr.themes.Soft(primary_hue="blue", secondary_hue="sky", neutral_hue="slate",
                          font=cjk, font_mono=["ui-monospace", "SFMono-Regular", "Menlo", "monospace"],
                          radius_size="md", text_size="md")


def css() -> str:
    return (STATIC / "style.css").read_text(encoding="utf-8")


def build_blocks(service: PolicyService) -> gr.Blocks:
    """The page. Limits are enforced here and in the service, never only in the browser (a Textbox's
    max_length is not checked by the server): the core refuses a question over its limit, the search
    box is cut to 100 characters, choices are checked against the corpus.

    Queue groups: "assistant" (answers) admits workers + LLM slots events at once; inside, the
    service lets `workers` of them compute and `llm_slots` wait on an LLM, so slow LLM calls can
    never take every place of the group. "search" admits `workers`."""
    concurrency = service.workers
    answering = service.workers + service.llm_slots
    corpus = service.corpus
    links = service.links
    doc_choices = [("全部文件", "")] + [(m.short_name, m.doc_id) for m in corpus.documents]
    scope_choices = [("在全部文件中查找", "")] + [(f"只查《{m.short_name}》", m.doc_id) for m in corpus.documents]
    max_chars = service.assistant.settings.max_question_chars

    # ------------------------------------------------------------------ handlers: chat
    def submit(text: str, state: dict):
        """Show the question at once (and lock the input); the answer follows in `respond`."""
        state = state or copy.deepcopy(NEW_STATE)
        question = (text or "").strip()
        if not question:
            return gr.skip(), state["messages"], state, ""
        # shown as the assistant will read it: personal numbers replaced (they are not kept in the session)
        shown = redact(question[:max_chars + 200])
        state["messages"] = state["messages"] + [{"role": "user", "content": render.user_html(shown)}]
        return gr.update(value="", interactive=False), state["messages"], state, question

    def respond(question: str, state: dict, scope: str):
        """A generator: an LLM's draft is shown while it is written (when one is configured), then the answer."""
        unlock = gr.update(interactive=True)
        if not question:
            yield gr.skip(), gr.skip(), gr.skip(), unlock
            return
        keep = 2 * service.assistant.settings.max_history_turns
        history = list(state.get("turns", []))[-keep:]
        copy_text = gr.skip()
        shown = 0.0
        try:
            events = service.ask_events(question, history=history, doc_ids=[scope] if scope else None, source="chat")
            for kind, value in events:
                if kind == "draft":
                    if time.monotonic() - shown > 0.15:  # a few updates a second are enough
                        shown = time.monotonic()
                        draft = {"role": "assistant", "content": render.draft_html(value)}
                        yield state["messages"] + [draft], gr.skip(), gr.skip(), gr.skip()
                    continue
                answer = value
                bubble = render.answer_html(answer, corpus, links, notice_for(answer))
                # the question as the core gave it back (redacted), never as typed
                state["turns"] = history + [{"role": "user", "content": answer["question"]},
                                            {"role": "assistant", "content": answer["answer"]}]
                state["answers"] = {**state.get("answers", {}), str(len(state["messages"])): answer}
                copy_text = service.copy_text(answer)
                break
            else:
                raise RuntimeError("the assistant gave no final answer")
        except QuestionError as e:
            bubble = render.error_html(str(e))
        except Exception:  # noqa: BLE001 — the person asking sees a friendly message, the log the traceback
            log.exception("answering failed")
            bubble = render.error_html(render.UNAVAILABLE)
        state["messages"] = state["messages"] + [{"role": "assistant", "content": bubble}]
        yield state["messages"], state, copy_text, unlock

    def pick_example(state: dict, evt: gr.SelectData):
        value = evt.value
        text = value.get("text", "") if isinstance(value, dict) else str(value or "")
        return submit(text, state)

    def clear():
        return [], copy.deepcopy(NEW_STATE), "", ""

    def on_like(state: dict, data: gr.LikeData):
        index = data.index[0] if isinstance(data.index, (list, tuple)) else data.index
        answer = (state or {}).get("answers", {}).get(str(index))
        if answer is None or not isinstance(data.liked, bool):
            return
        try:
            stored = service.record_feedback("up" if data.liked else "down", answer=answer, source="chat")
        except Exception:  # noqa: BLE001
            log.exception("storing feedback failed")
            stored = None
        if stored is not None:
            gr.Info("谢谢您的评价！" if data.liked else "谢谢反馈，我们会据此改进。", duration=3, title="已收到")
        else:
            gr.Warning("评价暂时没有保存成功，请稍后再试。", duration=3)

    # ------------------------------------------------------------------ handlers: console
    def search_ui(query: str, doc_id: str):
        try:
            result = service.search(query, doc_id or None, limit=8)
            return render.search_html(corpus, result["query"], result["results"], result.get("terms", []), links)
        except Exception:  # noqa: BLE001
            log.exception("search failed")
            return f'<div class="pa-hint">{render.esc(render.UNAVAILABLE)}</div>'

    def open_article(evt: gr.EventData):
        try:
            article_id = evt.article
        except (AttributeError, TypeError):
            article_id = None
        if isinstance(article_id, str) and article_id in corpus.by_id:
            return gr.update(value=article_id)
        return gr.skip()

    def view(article_id: str):
        return render.article_view_html(corpus, article_id, links)

    def draft(question: str):
        try:
            return service.copy_text(service.ask(question, source="console"))
        except QuestionError as e:
            return f"错误：{e}"
        except Exception:  # noqa: BLE001
            log.exception("answering failed")
            return render.UNAVAILABLE

    header_docs = "依据" + "和".join(
        f'《{render.esc(m.short_name)}》<span class="pa-docnums">（{render.esc(m.number)}）</span>'
        for m in corpus.documents)

    # ------------------------------------------------------------------ layout
    with gr.Blocks(title="就业创业政策问答 · 内蒙古", analytics_enabled=False) as demo:
        gr.HTML('<header class="pa-header"><div class="pa-logo">政</div><div>'
                '<h1>就业创业政策问答</h1>'
                f'<p>{header_docs}</p>'
                '</div></header>', elem_id="pa-header-box", js_on_load=None)
        state = gr.State(copy.deepcopy(NEW_STATE))
        pending = gr.State("")
        with gr.Tabs(elem_id="pa-tabs"):
            with gr.Tab("政策问答", id="chat", elem_id="pa-tab-chat"):
                chatbot = gr.Chatbot(
                    value=[], elem_id="pa-chat", show_label=False, height="62vh", min_height=320,
                    layout="bubble", placeholder=render.welcome_markdown(corpus),
                    examples=[{"text": q} for q in EXAMPLES],
                    feedback_options=("Like", "Dislike") if service.store.feedback else None,
                    buttons=[], sanitize_html=True, render_markdown=True, line_breaks=False,
                    autoscroll=True, group_consecutive_messages=False)
                with gr.Row(elem_id="pa-ask-row", equal_height=True):
                    question = gr.Textbox(
                        show_label=False, placeholder="请输入您的问题，例如：退役军人创业有哪些扶持？",
                        max_length=max_chars, lines=1, max_lines=4, scale=8, elem_id="pa-question",
                        autofocus=False, submit_btn="发送")
                with gr.Row(elem_id="pa-tools", equal_height=True):
                    scope = gr.Dropdown(choices=scope_choices, value="", show_label=False, container=False,
                                        scale=3, min_width=160, elem_id="pa-scope", filterable=False)
                    clear_btn = gr.Button("清空对话", scale=1, min_width=96, variant="secondary",
                                          elem_id="pa-clear", size="md")
                with gr.Accordion("复制回答（纯文本，含完整出处）", open=False, elem_id="pa-copy-acc"):
                    copy_box = gr.Textbox(show_label=False, lines=8, max_lines=20, interactive=False,
                                          buttons=["copy"], elem_id="pa-copy",
                                          placeholder="提问后，这里显示最新回答的纯文本，可一键复制。")
                gr.HTML(f'<div class="pa-notice-bar">ⓘ {render.esc(render.NOTICE)}'
                        f' 人社服务热线 <b>{HOTLINE}</b></div>', js_on_load=None)

            with gr.Tab("热线坐席", id="console", elem_id="pa-tab-console"):
                with gr.Row(elem_id="pa-console"):
                    with gr.Column(scale=5, min_width=300):
                        search_box = gr.Textbox(label="检索条款", placeholder="输入关键词，如：创业担保贷款、退役军人、稳岗",
                                                elem_id="pa-search", max_length=100, submit_btn="检索")
                        doc_filter = gr.Radio(choices=doc_choices, value="", label="文件", elem_id="pa-doc-filter")
                        results = gr.HTML(render.search_html(corpus, "", [], [], links), elem_id="pa-results",
                                          js_on_load=CLICK_JS)
                    with gr.Column(scale=6, min_width=300, elem_id="pa-viewer-box"):
                        picker = gr.Dropdown(choices=service.article_choices(), value=None, label="条文浏览",
                                             elem_id="pa-picker", filterable=True)
                        viewer = gr.HTML(render.article_view_html(corpus, None, links), elem_id="pa-viewer",
                                         js_on_load=CLICK_JS)
                        with gr.Accordion("文件目录", open=True, elem_id="pa-toc-acc"):
                            tocs = []
                            with gr.Tabs():
                                for meta in corpus.documents:
                                    with gr.Tab(meta.short_name):
                                        tocs.append(gr.HTML(render.toc_html(corpus, meta.doc_id, links),
                                                            js_on_load=CLICK_JS))
                with gr.Accordion("代答：为来电者生成可复制的答复", open=False, elem_id="pa-draft-acc"):
                    with gr.Row():
                        draft_q = gr.Textbox(label="来电者的问题", max_length=max_chars, scale=4,
                                             elem_id="pa-draft-q", submit_btn="生成")
                    draft_out = gr.Textbox(label="答复（纯文本，含完整出处）", lines=10, max_lines=30,
                                           interactive=False, buttons=["copy"], elem_id="pa-draft-out")

        # ------------------------------------------------------------------ events
        private = {"api_visibility": "private"}
        ask_args = dict(concurrency_id="assistant", concurrency_limit=answering, show_progress="minimal", **private)
        answer_io = ([pending, state, scope], [chatbot, state, copy_box, question])
        question.submit(submit, [question, state], [question, chatbot, state, pending], concurrency_limit=None,
                        show_progress="hidden", **private).then(respond, *answer_io, **ask_args)
        chatbot.example_select(pick_example, [state], [question, chatbot, state, pending], concurrency_limit=None,
                               show_progress="hidden", **private).then(respond, *answer_io, **ask_args)
        clear_btn.click(clear, None, [chatbot, state, copy_box, pending], queue=False, **private)
        chatbot.clear(clear, None, [chatbot, state, copy_box, pending], queue=False, **private)
        chatbot.like(on_like, [state], None, concurrency_id="feedback", concurrency_limit=2, **private)

        search_args = dict(concurrency_id="search", concurrency_limit=concurrency, show_progress="hidden",
                           trigger_mode="always_last", **private)
        search_box.change(search_ui, [search_box, doc_filter], results, **search_args)
        search_box.submit(search_ui, [search_box, doc_filter], results, **search_args)
        doc_filter.change(search_ui, [search_box, doc_filter], results, **search_args)
        for html_block in [results, viewer, *tocs]:
            html_block.click(open_article, None, picker, queue=False, **private)
        picker.change(view, picker, viewer, queue=False, **private)
        draft_q.submit(draft, draft_q, draft_out, concurrency_id="assistant", concurrency_limit=answering,
                       **private)

        # ------------------------------------------------------------------ named API endpoints
        register_api(service)
    return demo


def register_api(service: PolicyService) -> None:
    """Named endpoints for gradio_client: /ask, /copy_answer, /search, /article, /documents, /feedback."""

    def ask(question: str, history: list[dict] | None = None, doc_ids: list[str] | None = None) -> dict:
        """Answer a question about the employment and entrepreneurship policies, with citations.
        history: earlier turns as [{"role": "user"|"assistant", "content": "..."}]; doc_ids: limit to these documents."""
        try:
            return service.ask(question, history=history, doc_ids=doc_ids, source="gradio_api")
        except QuestionError as e:
            raise gr.Error(str(e), print_exception=False) from None

    def copy_answer(question: str, history: list[dict] | None = None, doc_ids: list[str] | None = None) -> str:
        """The answer as plain text with full citations, ready to paste."""
        return service.copy_text(ask(question, history, doc_ids))

    def search(query: str, doc_id: str = "", limit: int = 8) -> dict:
        """Articles matching the words of the query, best first; doc_id limits to one document."""
        return service.search(query, doc_id or None, limit=limit)

    def article(article_id: str) -> dict:
        """One article in full, with its departments and its counterparts in the other document."""
        try:
            return service.article(article_id)
        except KeyError as e:
            raise gr.Error(str(e.args[0]), print_exception=False) from None

    def documents() -> list[dict]:
        """The documents and their tables of contents."""
        return service.documents()

    def feedback(rating: str, question: str, answer: str, citation_ids: list[str] | None = None,
                 comment: str = "") -> dict:
        """Record 👍 ("up") or 👎 ("down") on an answer; personal numbers are removed before storing."""
        try:
            row = service.record_feedback(rating, question=question, answer=answer, citation_ids=citation_ids,
                                          comment=comment, source="api")
        except ValueError as e:
            raise gr.Error(str(e), print_exception=False) from None
        return {"stored": row is not None, "id": row}

    concurrency = service.workers
    limits = dict(concurrency_id="assistant", concurrency_limit=service.workers + service.llm_slots)
    gr.api(ask, api_name="ask", **limits)
    gr.api(copy_answer, api_name="copy_answer", **limits)
    gr.api(search, api_name="search", concurrency_id="search", concurrency_limit=concurrency)
    gr.api(article, api_name="article", concurrency_limit=None)
    gr.api(documents, api_name="documents", concurrency_limit=None)
    gr.api(feedback, api_name="feedback", concurrency_limit=2)
