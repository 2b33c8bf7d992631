"""The `deskhand` command line as a user runs it: real processes, real data dir."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def deskhand(home: Path, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "DESKHAND_HOME": str(home), "HF_HUB_OFFLINE": "1", "COLUMNS": "200"}
    env.pop("DESKHAND_DATABASE_URL", None)
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", *args],
        cwd=ROOT,
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.fixture(scope="module")
def home(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("cli-home")


def test_ask_json_prints_one_object_with_the_contract_keys(home: Path) -> None:
    run = deskhand(home, "ask", "how do I reset my password", "--json", "--sample")
    assert run.returncode == 0, run.stderr
    data = json.loads(run.stdout)
    assert {
        "route",
        "reply",
        "citations",
        "issue_type",
        "confidence",
        "reasons",
        "escalation",
    } <= data.keys()
    assert data["route"] == "answer"
    assert data["citations"][0]["url"].startswith("https://")
    assert data["escalation"] is None

    human = json.loads(deskhand(home, "ask", "I want to talk to a human", "--json").stdout)
    assert human["route"] == "escalate"
    assert human["escalation"]["reasons"] == ["human_requested"]
    assert human["escalation"]["transcript"]


def test_kb_import_reports_malformed_files_by_name_and_line(home: Path, tmp_path: Path) -> None:
    good = tmp_path / "faq.jsonl"
    good.write_text(
        json.dumps(
            {
                "id": "q1",
                "question": "Do you ship to Mars?",
                "answer": "No, Lumen Hub ships to Earth only.",
            }
        )
        + "\n"
    )
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"id": "q2", "question": "ok", "answer": "fine"}) + "\n{not json\n")
    ok = deskhand(home, "kb", "import", str(good))
    assert ok.returncode == 0, ok.stderr
    failed = deskhand(home, "kb", "import", str(bad))
    assert failed.returncode != 0
    assert f"{bad}:2" in failed.stderr.replace("\n", "")
    listed = json.loads(deskhand(home, "kb", "list", "--json").stdout)
    titles = [a["title"] for a in listed]
    assert "Do you ship to Mars?" in titles
    assert "ok" not in titles  # nothing from the malformed file was written


def test_scope_import_rejects_a_bad_file_clearly(home: Path, tmp_path: Path) -> None:
    bad = tmp_path / "scope.yaml"
    bad.write_text("issue_types:\n  - name: billing\n    examples: [only one]\n")
    run = deskhand(home, "scope", "import", str(bad))
    assert run.returncode == 2
    assert "at least 2 example phrasings" in " ".join(run.stderr.split())
    assert "Traceback" not in run.stderr


def test_demo_runs_a_scripted_session(home: Path, tmp_path: Path) -> None:
    script = tmp_path / "demo.txt"
    script.write_text(
        "how do I reset my password\n/new\nI want a human\n/staff // internal check\n/staff Hi, I'm on it\n/resolve\n/rate 5\n/quit\n"
    )
    run = deskhand(home, "demo", "--script", str(script))
    assert run.returncode == 0, run.stderr
    out = run.stdout
    assert "route=answer" in out
    assert "route=escalate" in out and "ticket #" in out
    assert "internal note, not sent" in out
    assert "resolved" in out


def test_kb_hygiene_reports_as_json(home: Path) -> None:
    run = deskhand(home, "kb", "hygiene", "--json")
    assert run.returncode == 0, run.stderr
    data = json.loads(run.stdout)
    assert set(data) == {"unsafe", "near_duplicates", "contradictions", "stale"}
    assert data["unsafe"] == []  # the sample help center passes the safety lint


def test_kb_import_from_the_cli_is_audited_and_undoable_from_chat(tmp_path: Path) -> None:
    home = tmp_path / "home"
    faq = tmp_path / "faq.jsonl"
    faq.write_text(
        json.dumps({"id": "m1", "question": "Do you ship to Mars?", "answer": "Earth only."}) + "\n"
    )
    run = deskhand(home, "kb", "import", str(faq))
    assert run.returncode == 0, run.stderr
    assert "audit undo" in run.stderr

    from admin_commands import Caller, run_command
    from bot.app import Deskhand
    from bot.audit import recent_audit
    from bot.config import Config

    app = Deskhand(Config(home=str(home)))
    entry = recent_audit(app.engine, 1)[0]
    assert entry.action == "kb import" and entry.actor.startswith("cli:")
    assert [a.title for a in app.kb.list()] == ["Do you ship to Mars?"]
    admin = Caller(platform="discord", user_id="U1", display_name="Ada", is_guild_admin=True)
    result = run_command(app, admin, f"audit undo {entry.id}")
    assert result.ok, result.text
    assert app.kb.list() == []
    again = deskhand(home, "kb", "import", str(faq))  # the undone article can come back
    assert again.returncode == 0 and "1 added" in again.stderr
