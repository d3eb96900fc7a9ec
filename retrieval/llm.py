"""Kept so that `from retrieval.llm import …` goes on working: the code is in retrieval/generation/."""
from .generation import *  # noqa: F401,F403
from .generation import __all__  # noqa: F401
