"""Fixtures for knowledge tests: a real SQLite file and a real LanceDB table in a temp dir."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.db import make_engine
from knowledge.index import LanceIndex
from knowledge.store import KnowledgeBase

COVIDFAQ = Path(__file__).resolve().parents[3] / "shared" / "datasets" / "covidfaq"


def build_kb(home: Path, embedder) -> KnowledgeBase:
    """A KnowledgeBase on a fresh data dir."""
    home.mkdir(parents=True, exist_ok=True)
    engine = make_engine(f"sqlite:///{home / 'kb.sqlite'}")
    return KnowledgeBase(engine, LanceIndex(home / "lancedb", embedder), embedder)


@pytest.fixture
def kb(tmp_path, embedder) -> KnowledgeBase:
    """An empty knowledge base per test (embedder is the session-wide MiniLM from tests/conftest)."""
    return build_kb(tmp_path / "home", embedder)


@pytest.fixture
def covidfaq() -> Path:
    """The CovidFAQ benchmark folder, read in place."""
    if not (COVIDFAQ / "faq.jsonl").exists():
        pytest.skip("shared CovidFAQ data not available")
    return COVIDFAQ
