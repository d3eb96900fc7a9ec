"""Evaluation harness: the assistant and common baselines on the same questions (see eval/README.md).

    python -m eval.run                       the development set, eval/questions.jsonl
    python -m eval.run --questions eval/heldout.jsonl
"""
