"""Shared fixtures: a real Deskhand (SQLite + LanceDB in a temp dir) loaded with the sample."""

from __future__ import annotations

import os
import shutil
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
def sample_template(tmp_path_factory, embedder) -> Path:
    """One sample-loaded home (KB indexed, classifier trained and cached), built once per session."""
    home = tmp_path_factory.mktemp("sample-template") / "home"
    app = make_app(home, embedder)
    app.graph_deps()  # trains the scope classifier; its .npz cache is copied with the home
    app.engine.dispose()
    return home


def copy_app(template: Path, home: Path, embedder, **overrides):
    """A fresh real app on a copy of the template home (same stack, no re-import or retraining)."""
    from bot.app import Deskhand
    from bot.config import Config

    shutil.copytree(template, home)
    return Deskhand(Config(home=str(home), **overrides), embedder=embedder)


@pytest.fixture(scope="session")
def shared_app(sample_template, tmp_path_factory, embedder):
    """One sample-loaded app for read-mostly tests; use unique channel/thread ids per test."""
    return copy_app(sample_template, tmp_path_factory.mktemp("shared") / "home", embedder)


@pytest.fixture
def app(sample_template, tmp_path, embedder) -> Iterator:
    """A fresh sample-loaded app per test, for tests that change settings or knowledge."""
    deskhand = copy_app(sample_template, tmp_path / "home", embedder)
    yield deskhand
    deskhand.classifier_job.wait()  # a background retrain finishes before its data dir goes
    deskhand.engine.dispose()


@pytest.fixture
def datasets() -> Path:
    """The shared public benchmark data (read in place, never copied into the repo)."""
    if not DATASETS.exists():
        pytest.skip("shared datasets not available")
    return DATASETS


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Show why each re-run test failed first: a flaky test that passes later still says why."""
    reruns = terminalreporter.stats.get("rerun", [])
    if not reruns:
        return
    terminalreporter.section("why re-run tests failed first")
    for report in reruns:
        crash = getattr(report.longrepr, "reprcrash", None)
        message = crash.message if crash is not None else str(report.longrepr)[-2000:]
        terminalreporter.write_line(f"{report.nodeid}: {message}")
