"""Optional packages (pyproject.toml's extras), imported only where a feature needs them.

`pip install .` brings what the embedded default needs; the rest comes with an extra. A missing one
stops the feature with a message naming the extra to install, never a bare ModuleNotFoundError.
"""
from __future__ import annotations

import importlib
from types import ModuleType


class MissingExtra(RuntimeError):
    """An optional package is not installed. A RuntimeError, so the command line reports it as
    `error: …` (exit code 3) like any other unusable configuration."""


def require(module: str, extra: str, feature: str) -> ModuleType:
    """Import `module`, or say which extra brings it: `pip install '.[extra]'` from the checkout."""
    try:
        return importlib.import_module(module)
    except ImportError as e:
        raise MissingExtra(f"{feature} needs the optional package {module.split('.')[0]!r}, which is not "
                           f"installed: pip install '.[{extra}]' (in the project's folder)") from e
