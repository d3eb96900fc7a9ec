"""The Gradio pages: the residents' chat (at /) and the hotline console (at /console).

Gradio serves the pages only: every event is private (no Gradio API endpoint; the public API is
web.api's). Answers come from the same service as the API, through the same admission control
(web.admission): the Gradio queue's limits are derived from it, and each answer holds one of its places."""
from __future__ import annotations

import copy
import logging
import time
from pathlib import Path
from typing import Any

import gradio as gr

from retrieval.answering.composer import HOTLINE
from retrieval.answering.render import plain_text
from retrieval.privacy import redact
from retrieval.types import QuestionError

from . import render
from .admission import Busy
from .service import PolicyService

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

# Links carrying data-article open that article in the console's viewer, which is then brought into view.
CLICK_JS = """
element.addEventListener('click', (e) => {
  const link = e.target.closest('[data-article]');
  if (!link) return;
  e.preventDefault();
  trigger('click', {article: link.dataset.article});
  if (window.paShowViewer) window.paShowViewer();
});
"""

NEW_STATE: dict[str, Any] = {"messages": [], "turns": [], "answers": {}}

# The residents' page tools: the 大字 switch and the one way to clear the chat, which asks first
# (a native <dialog>: focus is trapped while it is open, Esc cancels). Handled in static/page.js.
TOOLS_HTML = """<div class="pa-toolbar">
<button type="button" id="pa-large" class="pa-tool" aria-pressed="false">大字</button>
<button type="button" id="pa-clear" class="pa-tool">清空对话</button>
</div>
<dialog id="pa-clear-dialog" aria-labelledby="pa-clear-title">
<p id="pa-clear-title">确定要清空全部对话吗？清空后无法恢复。</p>
<div class="pa-dialog-buttons">
<button type="button" class="pa-tool" id="pa-clear-cancel">取消</button>
<button type="button" class="pa-tool pa-danger" id="pa-clear-ok">清空</button>
</div>
</dialog>
<div id="pa-live" class="pa-sr-only" aria-live="polite"></div>"""


def theme() -> gr.themes.Base:
    cjk = ["PingFang SC", "Hiragino Sans GB", "Microsoft YaHei", "Noto Sans CJK SC", "Source Han Sans SC",
           "WenQuanYi Micro Hei", "system-ui", "sans-serif"]
    return gr.themes.Soft(primary_hue="blue", secondary_hue="sky", neutral_hue="slate",
                          font=cjk, font_mono=["ui-monospace", "SFMono-Regular", "Menlo", "monospace"],
                          radius_size="md", text_size="md").set(
        # darker greys than the theme's: secondary text must keep a contrast of at least 4.5:1
        body_text_color_subdued="*neutral_600", block_label_text_color="*neutral_700",
        block_info_text_color="*neutral_600", input_placeholder_color="*neutral_500",
        body_text_color_subdued_dark="*neutral_300", block_label_text_color_dark="*neutral_200",
        color_accent="*primary_700", block_title_text_color="*primary_800",
        checkbox_label_background_fill_selected="*primary_700", checkbox_background_color_selected="*primary_700",
        button_primary_background_fill="*primary_700", button_primary_border_color="*primary_700",
        button_primary_background_fill_hover="*primary_800")


def css() -> str:
    return (STATIC / "style.css").read_text(encoding="utf-8")


def head() -> str:
    """The page script (copy, focus and scrolling, 大字, clear with confirmation, Chinese labels)."""
    return "<script>" + (STATIC / "page.js").read_text(encoding="utf-8") + "</script>"


def build_resident(service: PolicyService) -> gr.Blocks:
    """The residents' page, served at /: a chat, nothing else. Limits are enforced here and in the
    service, never only in the browser (a Textbox's max_length is not checked by the server): the
    core refuses a question over its limit.

    Queue group "assistant" (answers) admits workers + LLM slots events at once; inside, the
    admission control lets `workers` of them compute and `llm_slots` wait on an LLM, so slow LLM
    calls can never take every place of the group."""
    answering = service.admission.answering_limit
    corpus = service.corpus
    links = service.links
    max_chars = service.assistant.settings.answering.max_question_chars

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

    def respond(question: str, state: dict):
        """A generator: an LLM's draft is shown while it is written (when one is configured), then the answer."""
        unlock = gr.update(interactive=True)
        if not question:
            yield gr.skip(), gr.skip(), unlock
            return
        keep = 2 * service.assistant.settings.answering.max_history_turns
        history = list(state.get("turns", []))[-keep:]
        shown = 0.0
        try:
            with service.admission.admit():
                for kind, value in service.ask_events(question, history=history, source="chat"):
                    if kind == "draft":
                        if time.monotonic() - shown > 0.15:  # a few updates a second are enough
                            shown = time.monotonic()
                            draft = {"role": "assistant", "content": render.draft_html(value)}
                            yield state["messages"] + [draft], gr.skip(), gr.skip()
                        continue
                    answer = value
                    bubble = render.answer_html(answer, corpus, links)
                    # the question as the core gave it back (redacted), never as typed
                    state["turns"] = history + [{"role": "user", "content": answer.question},
                                                {"role": "assistant", "content": answer.answer}]
                    state["answers"] = {**state.get("answers", {}), str(len(state["messages"])): answer}
                    break
                else:
                    raise RuntimeError("the assistant gave no final answer")
        except (QuestionError, Busy) as e:
            bubble = render.error_html(str(e))
        except Exception:  # the person asking sees a friendly message, the log the traceback
            log.exception("answering failed")
            bubble = render.error_html(render.UNAVAILABLE)
        state["messages"] = state["messages"] + [{"role": "assistant", "content": bubble}]
        yield state["messages"], state, unlock

    def pick_example(state: dict, evt: gr.SelectData):
        value = evt.value
        text = value.get("text", "") if isinstance(value, dict) else str(value or "")
        return submit(text, state)

    def clear():
        return [], copy.deepcopy(NEW_STATE), ""

    def on_like(state: dict, data: gr.LikeData):
        index = data.index[0] if isinstance(data.index, (list, tuple)) else data.index
        answer = (state or {}).get("answers", {}).get(str(index))
        if answer is None or not isinstance(data.liked, bool):
            return
        try:
            stored = service.record_feedback("up" if data.liked else "down", answer=answer.to_dict(), source="chat")
        except Exception:  # noqa: BLE001
            log.exception("storing feedback failed")
            stored = None
        if stored is not None:
            gr.Info("谢谢您的评价！" if data.liked else "谢谢反馈，我们会据此改进。", duration=3, title="已收到")
        else:
            gr.Warning("评价暂时没有保存成功，请稍后再试。", duration=3, title="没有保存")

    with gr.Blocks(title="就业创业政策问答", analytics_enabled=False) as demo:
        gr.HTML(render.header_html(corpus), elem_id="pa-header-box", js_on_load=None)
        state = gr.State(copy.deepcopy(NEW_STATE))
        pending = gr.State("")
        with gr.Column(elem_id="pa-main"):
            chatbot = gr.Chatbot(
                value=[], elem_id="pa-chat", show_label=False, label="对话", height="62vh", min_height=320,
                layout="bubble", placeholder=render.welcome_markdown(corpus),
                examples=[{"text": q} for q in EXAMPLES],
                feedback_options=("Like", "Dislike") if service.store.feedback else None,
                buttons=[], sanitize_html=True, render_markdown=True, line_breaks=False,
                autoscroll=False, group_consecutive_messages=False)  # page.js scrolls to the new answer's start
            question = gr.Textbox(
                show_label=False, label="您的问题", placeholder="请输入您的问题，例如：退役军人创业有哪些扶持？",
                max_length=max_chars, lines=1, max_lines=4, elem_id="pa-question",
                autofocus=False, submit_btn="发送")
            gr.HTML(TOOLS_HTML, elem_id="pa-tools", js_on_load=None)
            # clicked by page.js once the person has confirmed in the dialog
            clear_do = gr.Button("清空", visible="hidden", elem_id="pa-clear-do")
            gr.HTML(f'<div class="pa-notice-bar">ⓘ {render.esc(render.NOTICE)}'
                    f' 人社服务热线 <b>{HOTLINE}</b></div>', js_on_load=None)

        private: dict[str, Any] = {"api_visibility": "private"}
        # progress shows as the chat's own "typing" dots: no timers over the input box
        ask_args: dict[str, Any] = dict(concurrency_id="assistant", concurrency_limit=answering, show_progress="minimal",
                        show_progress_on=[chatbot], **private)
        answer_io = ([pending, state], [chatbot, state, question])
        question.submit(submit, [question, state], [question, chatbot, state, pending], concurrency_limit=None,
                        show_progress="hidden", **private).then(respond, *answer_io, **ask_args)
        chatbot.example_select(pick_example, [state], [question, chatbot, state, pending], concurrency_limit=None,
                               show_progress="hidden", **private).then(respond, *answer_io, **ask_args)
        clear_do.click(clear, None, [chatbot, state, pending], queue=False, show_progress="hidden", **private)
        chatbot.like(on_like, [state], None, concurrency_id="feedback", concurrency_limit=service.admission.feedback_limit,
                     show_progress="hidden", **private)
    return demo


def build_console(service: PolicyService) -> gr.Blocks:
    """The 12333 hotline console, served at /console: search, browse, draft a reply.
    Queue groups: "search" admits `workers`; "assistant" (drafts) as on the residents' page."""
    concurrency = service.admission.workers
    answering = service.admission.answering_limit
    corpus = service.corpus
    links = service.links
    doc_choices = [("全部文件", "")] + [(m.short_name, m.doc_id) for m in corpus.documents]
    scope_choices = [("全部文件", "")] + [(f"只查《{m.short_name}》", m.doc_id) for m in corpus.documents]
    max_chars = service.assistant.settings.answering.max_question_chars

    def search_ui(query: str, doc_id: str):
        try:
            result = service.search(query, doc_id or None, limit=8)
            return render.search_html(corpus, result["query"], result["results"], result.get("terms", []), links,
                                      result.get("phrases"))
        except Exception:
            log.exception("search failed")
            return f'<div class="pa-hint">{render.esc(render.UNAVAILABLE)}</div>'

    def open_article(evt: gr.EventData):
        try:
            article_id = evt.article
        except (AttributeError, TypeError):
            article_id = None
        if isinstance(article_id, str) and article_id in corpus.by_id:
            return render.article_view_html(corpus, article_id, links)
        return gr.skip()

    def draft(question: str, scope: str):
        try:
            with service.admission.admit():
                answer = service.ask(question, doc_ids=[scope] if scope else None, source="console")
            return plain_text(answer) if answer.answer else ""
        except (QuestionError, Busy) as e:
            return f"错误：{e}"
        except Exception:
            log.exception("answering failed")
            return render.UNAVAILABLE

    with gr.Blocks(title="热线坐席 · 就业创业政策", analytics_enabled=False) as demo:
        gr.HTML(render.header_html(corpus, "· 热线坐席"), elem_id="pa-header-box", js_on_load=None)
        with gr.Row(elem_id="pa-console"):
            with gr.Column(scale=5, min_width=300):
                search_box = gr.Textbox(label="检索条款", placeholder="输入关键词，如：创业担保贷款、退役军人、稳岗",
                                        elem_id="pa-search", max_length=100, submit_btn="检索")
                doc_filter = gr.Radio(choices=doc_choices, value="", label="文件", elem_id="pa-doc-filter")
                results = gr.HTML(render.search_html(corpus, "", [], [], links), elem_id="pa-results",
                                  js_on_load=CLICK_JS)
            with gr.Column(scale=6, min_width=300, elem_id="pa-viewer-box"):
                finder = gr.HTML(render.article_finder_html(corpus), elem_id="pa-finder-box", js_on_load=CLICK_JS)
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
                scope = gr.Dropdown(choices=scope_choices, value="", label="查找范围", scale=2, min_width=160,
                                    elem_id="pa-scope", filterable=False)
            draft_out = gr.Textbox(label="答复（纯文本，含完整出处）", lines=10, max_lines=30,
                                   interactive=False, buttons=["copy"], elem_id="pa-draft-out")

        private: dict[str, Any] = {"api_visibility": "private"}
        search_args: dict[str, Any] = dict(concurrency_id="search", concurrency_limit=concurrency, show_progress="hidden",
                           trigger_mode="always_last", **private)
        search_box.change(search_ui, [search_box, doc_filter], results, **search_args)
        search_box.submit(search_ui, [search_box, doc_filter], results, **search_args)
        doc_filter.change(search_ui, [search_box, doc_filter], results, **search_args)
        for html_block in [results, finder, viewer, *tocs]:
            html_block.click(open_article, None, viewer, queue=False, show_progress="hidden", **private)
        draft_q.submit(draft, [draft_q, scope], draft_out, concurrency_id="assistant", concurrency_limit=answering,
                       show_progress="minimal", **private)
    return demo
