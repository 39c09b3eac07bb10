"""Benchmarks. Each `bench/bench_*.py` has `run() -> dict` and measures against a baseline in the
same run; targets are reported as ratios, never asserted as times in tests."""
