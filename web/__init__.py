"""Web front end: residents' chat, hotline console, JSON API (FastAPI + Gradio, served by uvicorn).

No usage statistics leave the machine: each page's gr.Blocks is made with analytics_enabled=False
(web/ui.py), which is what Gradio checks before any telemetry or version check.
"""
