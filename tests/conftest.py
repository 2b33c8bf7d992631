"""Shared fixtures: a real Deskhand (SQLite + LanceDB in a temp dir) loaded with the sample."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

DATASETS = Path(__file__).resolve().parents[1].parent / "shared" / "datasets"


@pytest.fixture(scope="session")
def embedder():
    """The real offline MiniLM, loaded once per test session."""
    from knowledge.embeddings import get_embedder

    return get_embedder("minilm")


def make_app(home: Path, embedder, sample: bool = True, **overrides):
    """Build a Deskhand on a fresh data dir, optionally with the bundled sample loaded."""
    from bot.app import Deskhand
    from bot.config import Config

    config = Config(home=str(home), **overrides)
    app = Deskhand(config, embedder=embedder)
    if sample:
        app.load_sample()
    return app


@pytest.fixture(scope="session")
def shared_app(tmp_path_factory, embedder):
    """One sample-loaded app for read-mostly tests; use unique channel/thread ids per test."""
    return make_app(tmp_path_factory.mktemp("shared-home"), embedder)


@pytest.fixture
def app(tmp_path, embedder) -> Iterator:
    """A fresh sample-loaded app per test, for tests that change settings or knowledge."""
    yield make_app(tmp_path / "home", embedder)


@pytest.fixture
def datasets() -> Path:
    """The shared public benchmark data (read in place, never copied into the repo)."""
    if not DATASETS.exists():
        pytest.skip("shared datasets not available")
    return DATASETS
