"""Fixtures of the custom-files tests: the real env files from the seed notes."""

from __future__ import annotations

from pathlib import Path

import pytest

SEEDS = Path(__file__).resolve().parents[3].parent / "shared" / "seeds"


@pytest.fixture(scope="session")
def seed_env_files() -> dict[str, str]:
    """run.env and system.env exactly as printed in the DOTS seed notes (001)."""
    seeds = sorted(SEEDS.glob("001_*.txt"))
    if not seeds:
        pytest.skip(f"no seed notes at {SEEDS}")
    text = seeds[0].read_text()
    run = text.split("$ cat run.env \n")[1].split("\n\n[cloudshell")[0] + "\n"
    system = text.split("$ cat system.env\n")[1].split(" ```")[0]
    return {"run.env": run, "system.env": system}
