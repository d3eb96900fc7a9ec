"""Web front end: residents' chat, hotline console, JSON API (FastAPI + Gradio, served by uvicorn)."""
import os

# no usage statistics leave the machine (read by gradio at import time)
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
