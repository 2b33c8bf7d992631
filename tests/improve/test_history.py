"""`deskhand eval history`: labelled cases from real work, replayed on the current configuration."""

from __future__ import annotations

import json

from sqlalchemy import func
from sqlmodel import Session, select

from admin_commands import run_command
from bot.improve.history import history_report, labelled_cases
from bot.models import Conversation, Decision
from tests.admin.conftest import ADMIN, STAFF, ask
from tests.improve.conftest import crypto_gap, not_helpful

OFF_TOPIC_BODY = "Each invoice PDF lists line items, tax and the billing address in a table."


def _counts(app) -> tuple[int, int]:
    with Session(app.engine) as session:
        return (
            session.exec(select(func.count()).select_from(Conversation)).one(),
            session.exec(select(func.count()).select_from(Decision)).one(),
        )


def test_approved_staff_answer_becomes_a_case_that_passes_and_can_fail(app) -> None:
    crypto = crypto_gap(app)  # three resolved tickets, each a pending KB candidate
    assert labelled_cases(app.engine) == []  # nothing approved yet
    first = app.kb.list_candidates("pending")[0]
    approved = run_command(app, STAFF, f"kb approve {first.id} --as-is")
    assert approved.ok, approved.text
    article = app.kb.list_candidates(None)[0].article_id
    cases = labelled_cases(app.engine)
    assert [(c.question, c.route, c.article_id, c.source) for c in cases] == [
            (crypto[0].citations and "can I pay my invoice with bitcoin?", "answer", article,
         "approved_answer")
    ]  # fmt: skip
    before = _counts(app)
    report = history_report(app)
    assert _counts(app) == before  # a replay writes nothing
    assert report["cases"] == 1 and report["passed"] == 1, report["results"]
    assert report["results"][0]["got_article"] == article
    bad_edit = run_command(
        app, ADMIN, f'kb edit {article} --title "Invoice PDF layout" --body "{OFF_TOPIC_BODY}"'
    )
    assert bad_edit.ok, bad_edit.text
    broken = history_report(app)  # the regression suite catches the bad edit
    assert broken["failed"] == 1 and broken["results"][0]["got_article"] != article
    assert run_command(app, ADMIN, f"kb revert {article} 1").ok
    assert history_report(app)["passed"] == 1  # fixed


def test_not_helpful_then_corrected_and_review_fixes_are_cases(app) -> None:
    reply = ask(app, "How do I reset my password?", user="UCORR")
    article = reply.citations[0].article_id
    not_helpful(app, reply, "UCORR")
    assert labelled_cases(app.engine) == []  # not corrected yet
    art = app.kb.get(article)
    edited = app.kb.edit_article(article, actor="test", body=art.body + " Links last 24 hours.")
    assert edited.version == art.version + 1
    other = ask(app, "can I pay my invoice with bitcoin?", user="UFIX")
    assert other.route == "answer" and other.confidence < 0.99
    tagged = run_command(
        app, STAFF, f"review tag {other.conversation_id} wrong-routing --route escalate"
    )
    assert tagged.ok
    cases = {c.source: c for c in labelled_cases(app.engine)}
    assert cases["corrected_article"].article_id == article
    assert cases["review_fix"].route == "escalate"
    report = history_report(app)
    results = {r["source"]: r for r in report["results"]}
    assert results["corrected_article"]["passed"] is True
    assert results["review_fix"]["passed"] is False  # the bot still answers it: a real failure
    assert report["by_source"]["review_fix"] == {"cases": 1, "passed": 0}
    bar = round(other.confidence + 0.005, 4)
    strict = history_report(app, {"answer": bar, "clarify": bar})  # a stricter candidate
    fixed = {r["source"]: r for r in strict["results"]}["review_fix"]
    assert fixed["got_route"] == "escalate" and fixed["passed"] is True
    assert strict["candidate"] == {"answer": bar, "clarify": bar}


def test_cli_eval_history_json(app, monkeypatch, capsys) -> None:
    from bot.app import get_app
    from bot.cli import main

    reply = ask(app, "How do I export my data?", user="UCLI")
    run_command(app, STAFF, f"review tag {reply.conversation_id} correct --route answer")
    monkeypatch.setenv("DESKHAND_HOME", app.config.home)
    monkeypatch.setattr("bot.app.get_app", lambda config=None: app)
    assert get_app is not None
    assert main(["eval", "history", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["cases"] == 1 and data["passed"] == 1
    assert main(["eval", "history", "--json", "--answer", "2"]) == 2
