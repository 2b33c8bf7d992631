"""Every setup or usage mistake: one line that says what to do, exit code 2, nothing written."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.slack.fake_slack import FakeSlack

ROOT = Path(__file__).resolve().parents[1]
SETTINGS = (
    "DESKHAND_DATABASE_URL",
    "DESKHAND_LLM",
    "DESKHAND_LLM_BASE_URL",
    "DESKHAND_LLM_API_KEY",
    "DESKHAND_LLM_TIMEOUT",
    "DESKHAND_EMBEDDER",
    "OPENAI_API_KEY",
)


def deskhand(home: Path, *args: str, cwd: Path = ROOT, **env: str) -> subprocess.CompletedProcess:
    base = {k: v for k, v in os.environ.items() if k not in SETTINGS and not k.startswith("SLACK_")}
    run_env = {
        **base,
        "DESKHAND_HOME": str(home),
        "HF_HUB_OFFLINE": "1",
        "PYTHONPATH": str(ROOT),
        **env,
    }
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", *args],
        cwd=cwd,
        env=run_env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def assert_one_line(run: subprocess.CompletedProcess, *needles: str) -> str:
    """Exit 2, a single stderr line starting with `deskhand:`, no traceback, and the hints."""
    assert run.returncode == 2, (run.returncode, run.stderr)
    lines = [line for line in run.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("deskhand: "), run.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]


@pytest.mark.parametrize(
    ("env", "args", "needles"),
    [
        ({"DESKHAND_EMBEDDER": "bogus"}, ("ask", "hi"), ("DESKHAND_EMBEDDER='bogus'", "minilm")),
        ({"DESKHAND_LLM_TIMEOUT": "abc"}, ("ask", "hi"), ("DESKHAND_LLM_TIMEOUT", "=20")),
        ({"DESKHAND_LLM_TIMEOUT": "-3"}, ("kb", "list"), ("DESKHAND_LLM_TIMEOUT",)),
        ({"DESKHAND_LLM": "nonsense"}, ("ask", "hi"), ("provider:model", "openai:gpt-4o-mini")),
    ],
    ids=["embedder-bogus", "timeout-abc", "timeout-negative", "llm-nonsense"],
)
def test_bad_settings_are_one_line_and_write_nothing(tmp_path, env, args, needles):
    home = tmp_path / "home"
    assert_one_line(deskhand(home, *args, **env), *needles)
    assert not home.exists()


def test_openai_without_a_key_says_which_variable_to_set(tmp_path):
    pytest.importorskip("langchain_openai", reason="the llm extra is installed by the dev extras")
    home = tmp_path / "home"
    run = deskhand(home, "ask", "hi", DESKHAND_LLM="openai:gpt-4o-mini")
    assert_one_line(run, "DESKHAND_LLM='openai:gpt-4o-mini'", "DESKHAND_LLM_API_KEY")
    assert not home.exists()


def test_read_only_commands_on_a_missing_home_say_where_they_looked(tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    for args in (("kb", "list"), ("scope", "list"), ("kb", "search", "password")):
        run = deskhand(Path(".deskhand"), *args, cwd=elsewhere)  # relative: read from the cwd
        assert_one_line(run, str(elsewhere / ".deskhand"), "DESKHAND_HOME", "relative to")
    assert list(elsewhere.iterdir()) == []


def test_eval_and_calibrate_without_datasets_point_to_the_readme(tmp_path):
    missing = str(tmp_path / "nowhere.jsonl")
    for args in (
        ("eval", "retrieval", "--faq", missing, "--queries", missing),
        ("eval", "intents", "--train", missing, "--test", missing),
        ("calibrate", "--faq", missing, "--queries", missing, "--oos", missing),
    ):
        run = deskhand(tmp_path / "home", *args, cwd=tmp_path)
        assert_one_line(run, missing, "README", "Datasets")
    assert list(tmp_path.iterdir()) == []  # no report folder, no home


def test_default_datasets_missing_is_the_same_clear_error(tmp_path, monkeypatch):
    from bot.evaluation import runner

    monkeypatch.setattr(runner, "DATASETS", tmp_path / "shared" / "datasets")
    with pytest.raises(runner.DatasetMissingError, match="../shared/datasets"):
        runner._default(None, "covidfaq", "faq.jsonl")


@pytest.fixture()
def fake_slack():
    fake = FakeSlack().start()
    yield fake
    fake.stop()


SLACK = {
    "SLACK_BOT_TOKEN": "xoxb-test",
    "SLACK_APP_TOKEN": "xapp-test",
    "SLACK_ESCALATION_CHANNEL": "CSTAFF",
}


def test_run_slack_without_the_escalation_channel_refuses_to_start(tmp_path, fake_slack):
    env = {**SLACK, "SLACK_API_URL": fake_slack.api_url}
    del env["SLACK_ESCALATION_CHANNEL"]
    assert_one_line(deskhand(tmp_path / "h", "run", "slack", **env), "SLACK_ESCALATION_CHANNEL")
    http = {**env, "SLACK_SIGNING_SECRET": ""}
    run = deskhand(tmp_path / "h", "run", "slack", "--http", **http)
    assert_one_line(run, "SLACK_SIGNING_SECRET", "SLACK_ESCALATION_CHANNEL")
    assert fake_slack.methods() == [] and not (tmp_path / "h").exists()


def test_run_slack_with_a_revoked_token_says_where_to_get_one(tmp_path, fake_slack):
    fake_slack.fail("auth.test", "invalid_auth")
    run = deskhand(tmp_path / "h", "run", "slack", **SLACK, SLACK_API_URL=fake_slack.api_url)
    assert_one_line(run, "invalid_auth", "xoxb-", "OAuth & Permissions")
    assert fake_slack.methods() == ["auth.test"] and not (tmp_path / "h").exists()


def test_run_slack_when_slack_is_unreachable(tmp_path, fake_slack):
    url = fake_slack.api_url
    fake_slack.stop()  # nothing listens there any more: connection refused
    run = deskhand(tmp_path / "h", "run", "slack", **SLACK, SLACK_API_URL=url)
    assert_one_line(run, "cannot reach Slack", url, "SLACK_API_URL")
    assert not (tmp_path / "h").exists()
