"""Optional LLM answers, in three steps (their settings, `LLMSettings`, are the llm section of
retrieval.config): prompts (the messages), client (one bounded, cancellable streamed request) and verify (the draft
checked against the cited provisions); generator ties them together for the assistant."""
from retrieval.config import LIMIT_FIELDS, MIN_OVERLAP, PROMPTS_DIR, LLMSettings
from retrieval.generation.client import LLMFailure, classify, request_body, stream_reply
from retrieval.generation.generator import NOTICES, LLMGenerator, notice
from retrieval.generation.prompts import (
    STOP,
    Prompts,
    as_data,
    bound_history,
    history_block,
    provision_block,
    provision_header,
)
from retrieval.generation.verify import (
    CLOSINGS,
    MARKER,
    NEGATION,
    Verifier,
    complete_part,
    figures,
    parse_markers,
    provision_text,
    renumber,
    repeats,
    split_statements,
    verify,
)

__all__ = ["LLMFailure", "classify", "request_body", "stream_reply", "NOTICES", "LLMGenerator", "notice", "STOP",
           "Prompts", "as_data", "bound_history", "history_block", "provision_block", "provision_header",
           "LIMIT_FIELDS", "MIN_OVERLAP", "PROMPTS_DIR", "LLMSettings", "CLOSINGS", "MARKER", "NEGATION",
           "Verifier", "complete_part", "figures", "parse_markers", "provision_text", "renumber", "repeats",
           "split_statements", "verify"]
