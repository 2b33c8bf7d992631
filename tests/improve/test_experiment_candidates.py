"""Scope changes and KB drafts as experiment candidates: served to the candidate arm only."""

from __future__ import annotations

import itertools
import re

from sqlmodel import Session, select

from admin_commands import run_command
from bot.contracts import IncomingMessage, Member, Reply
from bot.improve.experiment import assign
from bot.models import Decision, IssueType
from knowledge.models import KbCandidate
from tests.admin.conftest import ADMIN, HELP_CHANNEL, MEMBER, STAFF, ask
from tests.improve.test_experiment_rollout import _audit_id, _key

RESET = "How do I reset my password?"  # answered from article "Reset your password"
FIXED = (
    "To reset your password, use Forgot password on the sign-in page, or open Settings, then "
    "Security, and press Send reset link. The reset link lasts 24 hours."
)
NEW_Q = "How do I change the language of my notification emails?"
NEW_BODY = (
    "Notification emails follow your email language: open Settings, then Notifications, and "
    "pick one under Email language. Digests switch from the next one."
)
WARRANTY = "is my hub still under warranty?"  # answered on the baseline
_sent = itertools.count(1)


def again(app, text: str, thread: str, user: str) -> Reply:
    """A further message in an existing thread (its own platform message id)."""
    msg = IncomingMessage("slack", HELP_CHANNEL, thread, f"{thread}-m{next(_sent)}", text,
                          Member(user, "Asker"), mentioned=True)  # fmt: skip
    return app.service.handle(msg)


def _article(app, title: str) -> int:
    return next(a.id for a in app.kb.list() if a.title == title)


def _arm(app, conversation_id: int) -> str:
    with Session(app.engine) as session:
        rows = session.exec(
            select(Decision.arm).where(Decision.conversation_id == conversation_id)
        ).all()
    assert len(set(rows)) == 1
    return rows[0]


def _candidate_id(text: str) -> int:
    return int(re.search(r"Candidate \*\*#(\d+)", text).group(1))


def test_kb_drafts_reach_only_the_candidate_arm_until_promoted(app) -> None:
    reset = _article(app, "Reset your password")
    original = app.kb.get(reset).body
    drafted = run_command(app, STAFF, f'kb draft {reset} --body "{FIXED}"')
    assert drafted.ok, drafted.text
    fix = _candidate_id(drafted.text)
    new = app.kb.add_candidate("Change the language of notification emails", NEW_BODY,
                               topic="notifications")  # fmt: skip
    assert app.kb.get(reset).body == original  # drafting publishes nothing

    started = run_command(app, ADMIN, f"experiment start fix kb-drafts {fix},{new.id} --share 50%")
    assert started.ok, started.text
    assert "KB drafts #" in started.text
    arms: dict[str, list] = {"baseline": [], "candidate": []}
    for i in range(12):
        reply = ask(app, RESET, thread=f"d-{i}", user=f"UD{i}")
        arm = _arm(app, reply.conversation_id)
        assert arm == assign(_key(app, reply.conversation_id), "fix", 0.5)
        arms[arm].append(reply)
    assert arms["baseline"] and arms["candidate"]
    for reply in arms["candidate"]:  # the draft replaces the published article for this arm
        assert reply.route == "answer" and "Send reset link" in reply.text, reply.text
        assert reply.citations[0].article_id == reset
    for reply in arms["baseline"]:
        assert reply.route == "answer" and "Send reset link" not in reply.text
    new_replies = [ask(app, NEW_Q, thread=f"n-{i}", user=f"UN{i}") for i in range(8)]
    for reply in new_replies:
        if _arm(app, reply.conversation_id) == "candidate":  # a new article, under a draft id
            assert reply.route == "answer" and "Email language" in reply.text, reply.text
            assert reply.citations[0].article_id == -new.id
        else:
            assert "Email language" not in reply.text
    assert app.kb.get(reset).body == original  # the published index was never written
    assert [h.article_id for h in app.kb.search(NEW_Q, k=3)].count(-new.id) == 0

    # Promote: both drafts are published for everyone; undo unpublishes them again.
    promoted = run_command(app, ADMIN, "experiment promote fix")
    assert promoted.ok, promoted.text
    assert f"KB articles #{reset}" in promoted.text
    assert app.kb.get(reset).body == FIXED
    everyone = ask(app, RESET, thread="after-promote", user="UAFTER")
    assert _arm(app, everyone.conversation_id) == ""
    assert "Send reset link" in everyone.text
    with Session(app.engine) as session:
        published = session.get(KbCandidate, new.id)
        assert published is not None and published.status == "approved"
        new_article = published.article_id
    assert "Email language" in ask(app, NEW_Q, thread="after-new", user="UAN").text
    undone = run_command(app, ADMIN, f"audit undo {_audit_id(promoted.text)}")
    assert undone.ok, undone.text
    assert app.kb.get(reset).body == original
    assert new_article not in {a.id for a in app.kb.list()}
    assert {c.id for c in app.kb.list_candidates("pending")} >= {fix, new.id}

    # Stop: the drafts leave serving (still unpublished candidates); undoing the stop resumes.
    cand = next(r for r in arms["candidate"])
    thread = _key(app, cand.conversation_id).split(":")[-1]
    user = f"UD{thread.split('-')[-1]}"
    stopped = run_command(app, ADMIN, "experiment stop fix")
    assert stopped.ok, stopped.text
    assert "Send reset link" not in again(app, RESET, thread, user).text
    assert {c.id for c in app.kb.list_candidates("pending")} >= {fix, new.id}
    assert run_command(app, ADMIN, f"audit undo {_audit_id(stopped.text)}").ok
    assert "Send reset link" in again(app, RESET, thread, user).text
    assert not run_command(app, MEMBER, f"kb draft {reset} --body x").ok


def test_scope_addition_changes_routing_for_the_candidate_arm_only(app) -> None:
    started = run_command(
        app,
        ADMIN,
        'experiment start no-warranty scope-out hub_warranty "is my hub under warranty" '
        '"hub warranty claim" "does the warranty cover my hub" "how long is the hub warranty" '
        "--share 50%",
    )
    assert started.ok, started.text
    assert "scope hub_warranty out" in started.text
    routes: dict[str, set[str]] = {"baseline": set(), "candidate": set()}
    for i in range(10):
        reply = ask(app, WARRANTY, thread=f"w-{i}", user=f"UW{i}")
        routes[_arm(app, reply.conversation_id)].add(reply.route)
    assert routes["baseline"] == {"answer"}, routes
    assert routes["candidate"] == {"decline"}, routes  # the candidate's classifier refuses it
    assert "hub_warranty" not in {r.name for r in app.scope.all()}  # not written before promote
    with Session(app.engine) as session:
        versions = {
            arm: set(session.exec(select(Decision.bot_version).where(Decision.arm == arm)))
            for arm in ("baseline", "candidate")
        }
    assert versions["baseline"] != versions["candidate"]

    promoted = run_command(app, ADMIN, "experiment promote no-warranty")
    assert promoted.ok and "scope hub_warranty" in promoted.text, promoted.text
    with Session(app.engine) as session:
        row = session.get(IssueType, "hub_warranty")
        assert row is not None and not row.in_scope
    assert ask(app, WARRANTY, thread="w-after", user="UWA").route == "decline"
    undone = run_command(app, ADMIN, f"audit undo {_audit_id(promoted.text)}")
    assert undone.ok and "scope" in undone.text, undone.text
    assert "hub_warranty" not in {r.name for r in app.scope.all()}
    assert run_command(app, ADMIN, "experiment stop no-warranty").ok
    assert ask(app, WARRANTY, thread="w-undone", user="UWU").route == "answer"


def test_bad_candidate_changes_get_one_clear_line(app) -> None:
    app.kb.add_candidate("q?", "an answer long enough", topic="account")
    cases = {
        "experiment start x kb-drafts 999": "not pending candidates",
        "experiment start x kb-drafts abc": "not a KB candidate id",
        'experiment start x scope-out crypto "only one"': "at least two example phrasings",
        "experiment start x scope-in": "needs an issue type",
        "kb draft 17": "Give the new text",
        "kb draft 17 --version 99": "has no version 99",
        "kb draft 9999 --body x": "no article with id 9999",
    }
    for line, needle in cases.items():
        result = run_command(app, ADMIN, line)
        assert not result.ok and needle in result.text, (line, result.text)


def test_a_promote_cut_short_after_publishing_a_draft_is_finished_by_running_it_again(app) -> None:
    """Promote publishes drafts before its one transaction; if the process dies in between, the
    experiment is still running with a draft live. Running promote again finishes it, and its
    undo withdraws the draft published before the cut as well as the rest."""
    reset = _article(app, "Reset your password")
    original = app.kb.get(reset).body
    fix = _candidate_id(run_command(app, STAFF, f'kb draft {reset} --body "{FIXED}"').text)
    new = app.kb.add_candidate("Change the language of notification emails", NEW_BODY,
                               topic="notifications")  # fmt: skip
    assert run_command(app, ADMIN, f"experiment start cut kb-drafts {fix},{new.id}").ok
    app.kb.approve_candidate(fix, "UADMIN")  # the first draft of the promote, then the cut
    assert app.kb.get(reset).body == FIXED
    assert "(running)" in run_command(app, STAFF, "experiment status cut").title

    promoted = run_command(app, ADMIN, "experiment promote cut")
    assert promoted.ok, promoted.text
    with Session(app.engine) as session:
        new_article = session.get(KbCandidate, new.id).article_id
    assert new_article in {a.id for a in app.kb.list()}
    undone = run_command(app, ADMIN, f"audit undo {_audit_id(promoted.text)}")
    assert undone.ok and "2 KB draft(s) unpublished" in undone.text, undone.text
    assert app.kb.get(reset).body == original
    assert new_article not in {a.id for a in app.kb.list()}
