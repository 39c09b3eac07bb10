"""`python -m bench [NAME ...]`: run the benchmarks (all, or those named), print each report and
write it to bench/results/<name>.json."""

from __future__ import annotations

import importlib
import json
import sys
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent


def available() -> list[str]:
    return sorted(path.stem for path in BENCH_DIR.glob("bench_*.py"))


def main(names: list[str]) -> int:
    chosen = names or available()
    unknown = sorted(set(chosen) - set(available()))
    if unknown:
        print(f"unknown benchmark(s): {', '.join(unknown)}; available: {', '.join(available())}")
        return 2
    results_dir = BENCH_DIR / "results"
    results_dir.mkdir(exist_ok=True)
    failed = 0
    for name in chosen:
        report = importlib.import_module(f"bench.{name}").run()
        (results_dir / f"{name}.json").write_text(json.dumps(report, indent=2, sort_keys=True) + "\n")
        print(f"== {name}")
        print(json.dumps(report, indent=2, sort_keys=True))
        failed += not report.get("targets_met", True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
