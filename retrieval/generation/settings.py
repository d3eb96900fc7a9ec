"""Where the LLM is, how much it may write and how long to wait for it.

The defaults were measured on a 2-core CPU with a real local server (llama-cpp-python and Gemma 3
270M; see the README's LLM section): a draft of LLM_MAX_TOKENS tokens arrives within
LLM_STREAM_TIMEOUT seconds there, so a resident waits at most that long for the rewrite after seeing the grounded answer.
"""
from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from retrieval.config import ROOT

PROMPTS_DIR = ROOT / "prompts"
MIN_OVERLAP = 0.5
# The generation limit under every name a common server reads: llama.cpp's server and Ollama read
# max_tokens (Ollama's OpenAI route knows no other name; llama-cpp-python ignores
# max_completion_tokens), vLLM and OpenAI's current API read max_completion_tokens. A provider that
# refuses one of them (OpenAI's reasoning models refuse max_tokens) is configured with LLM_LIMIT_FIELDS.
LIMIT_FIELDS = ("max_tokens", "max_completion_tokens")
KNOWN_LIMIT_FIELDS = ("max_tokens", "max_completion_tokens", "n_predict", "num_predict")


@dataclass(frozen=True)
class LLMSettings:
    """Environment: LLM_<FIELD NAME IN CAPITALS>, over a TOML file named by LLM_CONFIG."""
    base_url: str                          # e.g. http://127.0.0.1:8000/v1
    model: str
    api_key: str = field(default="EMPTY", repr=False)  # local servers accept any key
    timeout: float = 6.0                   # seconds for the first piece of the reply, and for each pause
    stream_timeout: float = 8.0            # seconds for the whole reply, streamed or not (the budget)
    max_retries: int = 1                   # retries of a failed request (within the budget)
    temperature: float = 0.0
    max_tokens: int = 160                  # generation limit sent to the server (3 to 6 Chinese sentences)
    max_chars: int = 400                   # client-side cap: reading stops after this many characters
    limit_fields: str = ",".join(LIMIT_FIELDS)
    system_role: str = "system"            # "user": the rules go at the top of the user message instead
    history_turns: int = 3                 # earlier exchanges (question + answer) passed along
    history_chars: int = 300               # characters kept of each earlier message
    min_overlap: float = MIN_OVERLAP       # idf-weighted share of a sentence's key terms in its provision
    prompts_dir: Path = PROMPTS_DIR

    def __post_init__(self) -> None:
        if not re.match(r"^https?://[^\s/]+", self.base_url):
            raise ValueError(f"LLM_BASE_URL must be an http(s) URL, got {self.base_url!r}")
        if not self.model.strip():
            raise ValueError("LLM_MODEL is empty")
        for name in ("timeout", "stream_timeout"):
            if not getattr(self, name) > 0:
                raise ValueError(f"LLM_{name.upper()} must be more than 0 seconds, got {getattr(self, name)}")
        for name in ("max_retries", "history_turns"):
            if getattr(self, name) < 0:
                raise ValueError(f"LLM_{name.upper()} must be 0 or more, got {getattr(self, name)}")
        if self.max_tokens < 16 or self.history_chars < 10 or self.max_chars < 50:
            raise ValueError("LLM_MAX_TOKENS must be at least 16, LLM_MAX_CHARS at least 50 "
                             "and LLM_HISTORY_CHARS at least 10")
        if not 0 < self.min_overlap <= 1:
            raise ValueError(f"LLM_MIN_OVERLAP must be in (0, 1], got {self.min_overlap}")
        if self.system_role not in ("system", "user"):
            raise ValueError(f"LLM_SYSTEM_ROLE must be system or user, got {self.system_role!r}")
        unknown = [f for f in self.limit_names if f not in KNOWN_LIMIT_FIELDS]
        if unknown or not self.limit_names:
            raise ValueError(f"LLM_LIMIT_FIELDS must name one or more of {', '.join(KNOWN_LIMIT_FIELDS)}; "
                             f"got {self.limit_fields!r}")

    @property
    def limit_names(self) -> list[str]:
        return [f.strip() for f in self.limit_fields.split(",") if f.strip()]

    @property
    def budget(self) -> float:
        return self.stream_timeout

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> LLMSettings | None:
        """Settings from LLM_* variables, over those of the TOML file named by LLM_CONFIG (if any);
        None when neither gives a base URL and a model (the assistant then stays extractive)."""
        env = os.environ if env is None else env
        raw: dict[str, Any] = {}
        config = (env.get("LLM_CONFIG") or "").strip()
        if config:
            path = Path(config).expanduser()
            try:
                raw.update(tomllib.loads(path.read_text(encoding="utf-8")))
            except (OSError, tomllib.TOMLDecodeError) as e:
                raise ValueError(f"LLM_CONFIG: cannot read {path}: {e}") from e
            unknown = set(raw) - {f.name for f in fields(cls)}
            if unknown:
                raise ValueError(f"LLM_CONFIG: unknown keys in {path}: {', '.join(sorted(unknown))}")
        for f in fields(cls):
            value = env.get(f"LLM_{f.name.upper()}")
            if value is not None and value.strip() != "":
                raw[f.name] = value.strip()
        if not raw.get("base_url") and not raw.get("model"):
            return None
        if not raw.get("base_url") or not raw.get("model"):
            missing = "LLM_BASE_URL" if not raw.get("base_url") else "LLM_MODEL"
            raise ValueError(f"{missing} is not set: an LLM needs both LLM_BASE_URL and LLM_MODEL "
                             "(unset both to answer without an LLM)")
        values: dict[str, Any] = {}
        for f in fields(cls):
            if f.name not in raw:
                continue
            value, kind = raw[f.name], str(f.type)
            try:
                if kind == "int":
                    values[f.name] = int(value)
                elif kind == "float":
                    values[f.name] = float(value)
                elif kind == "Path":
                    values[f.name] = Path(str(value)).expanduser()
                else:
                    values[f.name] = str(value)
            except ValueError as e:
                raise ValueError(f"LLM_{f.name.upper()} must be a number, got {value!r}") from e
        return cls(**values)
