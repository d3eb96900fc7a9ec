"""Entry point of a benchmark step run in its own process: python -m bench.step module:function '{json kwargs}'."""
from __future__ import annotations

import importlib
import json
import sys

from bench.common import RESULT_MARK, peak_rss_mib, rss_mib


def main() -> None:
    target, raw = sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else "{}"
    module, func = target.split(":")
    result = getattr(importlib.import_module(module), func)(**json.loads(raw)) or {}
    result.setdefault("peak_rss_mib", round(peak_rss_mib(), 1))
    result.setdefault("end_rss_mib", round(rss_mib(), 1))
    print(RESULT_MARK + json.dumps(result, ensure_ascii=False), flush=True)


if __name__ == "__main__":
    main()
