"""A new user's first commands, as real processes: quiet, literal, and clear about where data is."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def deskhand(cwd: Path, home: str, *args: str) -> subprocess.CompletedProcess:
    env = {
        **os.environ,
        "DESKHAND_HOME": home,
        "HF_HUB_OFFLINE": "1",
        "COLUMNS": "300",
        "PYTHONPATH": str(ROOT),
    }
    env.pop("DESKHAND_DATABASE_URL", None)
    env.pop("LANCEDB_LOG", None)
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_first_import_is_quiet_literal_and_says_what_it_assumed(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "dark-mode.md").write_text("Open Settings → Appearance and pick Dark.\n")
    (docs / "billing.md").write_text(
        "---\ntitle: Billing\nurl: https://help.example/billing\ntopic: billing\n---\nWe bill monthly.\n"
    )
    bad = docs / "faq[red].jsonl"
    bad.write_text('{"id": "q1", "question": "ok", "answer": "fine"}\n{not json\n')
    run = deskhand(tmp_path, str(tmp_path / "home"), "kb", "import", str(docs))
    err = " ".join(run.stderr.split())
    assert "WARN" not in run.stderr and "Loading weights" not in run.stderr, run.stderr
    assert f"{bad}:2" in err  # the [red] in the file name is not eaten as markup
    assert "assumed:" in err and "dark-mode.md: no front matter" in err
    assert "title 'Dark mode' (from the file name), topic 'general'" in err
    assert "billing.md: no front matter" not in err
    assert f"data in {tmp_path / 'home'}" in err
    listed = json.loads(deskhand(tmp_path, str(tmp_path / "home"), "kb", "list", "--json").stdout)
    assert sorted(a["title"] for a in listed) == ["Billing", "Dark mode"]


def test_a_relative_home_is_shown_absolute_and_an_empty_one_is_warned_about(
    tmp_path: Path,
) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    run = deskhand(elsewhere, ".deskhand", "ask", "how do I reset my password")
    err = " ".join(run.stderr.split())
    assert run.returncode == 0, run.stderr
    assert f"warning: no articles in {elsewhere / '.deskhand'}" in err
    assert f"relative to {elsewhere}" in err


def test_the_torch_embedder_loads_without_progress_bars(tmp_path: Path) -> None:
    import importlib.util

    import pytest

    if importlib.util.find_spec("sentence_transformers") is None:
        pytest.skip("the torch extra is not installed")
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(ROOT)}
    for key in ("HF_HUB_DISABLE_PROGRESS_BARS", "TRANSFORMERS_VERBOSITY"):
        env.pop(key, None)
    code = (
        "from knowledge.embeddings import get_embedder; get_embedder('minilm-torch').embed(['x'])"
    )
    run = subprocess.run(
        [sys.executable, "-c", code],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stderr
    assert "Loading weights" not in run.stderr and "it/s" not in run.stderr, run.stderr
