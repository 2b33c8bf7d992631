"""The data flywheel: corrected issue types and approved phrasings become classifier examples (one
in five held back to measure on), the classifier retrains off the message path, and the weekly
digest shows the learning curve (in text always, as a chart with the charts extra)."""

from __future__ import annotations

import json
import threading
from datetime import timedelta

from sqlmodel import Session, select

from admin_commands import run_command
from bot.charts_extra import NO_CHARTS
from bot.improve.flywheel import is_held_back, learn_phrasing, learning_curve
from bot.models import ClassifierExample, ClassifierPoint
from bot.monitoring.digest import weekly_digest
from knowledge.models import utcnow
from tests.admin.conftest import ADMIN, STAFF, ask
from tests.admin.test_no_charts import no_matplotlib  # noqa: F401  (the fixture)

# Questions about the look of the app: a type the sample scope does not have, so the classifier
# only learns it from the phrasings the flywheel adds.
LOOKS = [
    "how do I turn on dark mode",
    "the screen is too bright at night, is there a dark theme",
    "can I make the text bigger",
    "the font is tiny on my laptop",
    "change the colour scheme of the app",
    "is there a high contrast mode for low vision",
    "can I switch the interface to a darker look",
    "the menus are too small to read",
    "where do I change the accent colour",
    "make everything larger, I can barely read the labels",
    "I'd like a black background instead of white",
    "how can I zoom the whole interface",
    "use the system theme automatically",
    "the white background hurts my eyes",
    "increase the font size in the sidebar",
    "can the app follow my OS light or dark setting",
    "the icons are too small on my big monitor",
    "turn off the bright theme please",
    "change text size for accessibility",
    "is there a night theme for the dashboard",
    "make the buttons bigger",
    "choose a different colour theme",
    "enable dark appearance on the web app",
    "my eyes hurt, can I dim the colours",
]
HELD = [q for q in LOOKS if is_held_back(q)]
TRAIN = [q for q in LOOKS if not is_held_back(q)]


def _points(app) -> list[ClassifierPoint]:  # noqa: F811
    with Session(app.engine) as session:
        return list(session.exec(select(ClassifierPoint).order_by(ClassifierPoint.id)))


def _learn(app, texts: list[str]) -> None:  # noqa: F811
    for text in texts:
        learn_phrasing(app, text, "appearance", "corrected_type", "test", "slack:USTAFF")
    app.classifier_job.wait()


def test_held_back_coin_is_stable_and_takes_about_one_in_five() -> None:
    assert HELD and TRAIN  # the scenario below needs both sides
    assert is_held_back("  How do I turn on DARK mode ") == is_held_back(
        "how do I turn on dark mode"
    )
    share = sum(is_held_back(f"question number {n}") for n in range(2000)) / 2000
    assert 0.17 < share < 0.23


def test_learning_curve_rises_as_corrections_become_examples(app) -> None:
    added = run_command(
        app, ADMIN, 'scope add appearance "set my profile picture" "rename my workspace"'
    )
    assert added.ok, added.text
    curve = []
    for batch in (HELD, TRAIN[: len(TRAIN) // 2], TRAIN[len(TRAIN) // 2 :]):
        _learn(app, batch)  # the held-back cases first: measured, never trained on
        curve.append(_points(app)[-1])
    base = curve[0].examples
    assert [(p.examples - base, p.learned) for p in curve] == [
        (0, 0),
        (len(TRAIN) // 2, len(TRAIN) // 2),
        (len(TRAIN), len(TRAIN)),
    ]
    assert all(p.held_back == len(HELD) for p in curve)
    assert curve[-1].correct > curve[0].correct  # it learned the new type
    rows = json.loads(next(r for r in app.scope.all() if r.name == "appearance").examples)
    assert set(TRAIN) <= set(rows) and not set(HELD) & set(rows)
    # The digest shows the curve: figures in text, the points in JSON, a second chart panel.
    digest = weekly_digest(app.engine)
    text = dict(digest.fields())["Classifier learning curve"]
    last = digest.learning[-1]
    assert last["examples"] == curve[-1].examples and last["learned"] == len(TRAIN)
    assert f"{round(100 * curve[-1].correct / len(HELD))}% of {len(HELD)} held back" in text
    assert digest.chart["kind"] == "panels"
    assert digest.chart["panels"][1]["series"]["held-back accuracy"][-1] == last["accuracy"]
    assert digest.to_dict()["learning_curve"] == digest.learning
    shown = run_command(app, STAFF, "digest")
    assert shown.ok and shown.image_png and shown.image_png.startswith(b"\x89PNG")
    assert learning_curve(app.engine, utcnow() - timedelta(days=1)) == []  # none before them


def test_digest_with_a_learning_curve_renders_without_matplotlib(app, no_matplotlib) -> None:  # noqa: F811
    assert run_command(app, ADMIN, 'scope add appearance "make the font bigger" "dark mode"').ok
    _learn(app, HELD + TRAIN[:3])
    assert len([p for p in _points(app) if p.held_back]) >= 2
    shown = run_command(app, STAFF, "digest")
    assert shown.ok and shown.image_png is None and NO_CHARTS in shown.text
    assert "held back" in dict(shown.fields)["Classifier learning curve"]


def test_a_correction_retrains_in_the_background_not_on_the_next_message(app) -> None:
    question = "my screen colours look wrong after the update, talk to a human"
    assert not is_held_back(question)
    reply = ask(app, question, user="UFLY")
    assert reply.ticket_id, reply
    before = app.current_classifier()
    app._lock.acquire()  # the retrain waits here, so a message arrives while it is under way
    try:
        result = run_command(app, STAFF, f"ticket {reply.ticket_id} type data_export")
        assert result.ok and "retrains in the background" in result.text
        assert app.classifier_job.running()
        answered = threading.Event()
        worker = threading.Thread(
            target=lambda: (ask(app, "How do I reset my password?", user="UFLY2"), answered.set())
        )
        worker.start()
        assert answered.wait(120)  # the member is answered without waiting for the retrain
        assert app.current_classifier() is before
    finally:
        app._lock.release()
    app.classifier_job.wait()
    assert app.current_classifier() is not before
    assert app.current_classifier().fingerprint == _points(app)[-1].fingerprint
    with Session(app.engine) as session:
        row = session.exec(select(ClassifierExample)).one()
    assert (row.text, row.issue_type, row.source, row.held_back) == (
        question,
        "data_export",
        "corrected_type",
        False,
    )


def test_approving_a_candidate_makes_its_question_an_approved_phrasing(app) -> None:
    question = "can I get the invoice addressed to my company instead, talk to a human"
    reply = ask(app, question, user="UAPPROVE")
    assert reply.ticket_id, reply
    ticket = app.desk.get(reply.ticket_id)
    app.desk.staff_message(ticket.id, "USTAFF", "Sam", "Yes: set the company name under Billing.")
    app.desk.resolve(ticket.id, "USTAFF")
    cand = next(c for c in app.kb.list_candidates() if c.ticket_id == ticket.id)
    result = run_command(app, ADMIN, f"kb approve {cand.id} --as-is")
    assert result.ok, result.text
    app.classifier_job.wait()
    with Session(app.engine) as session:
        rows = list(session.exec(select(ClassifierExample)))
    assert [(r.text, r.issue_type, r.source) for r in rows] == [
        (question, ticket.issue_type, "approved_phrasing")
    ]
    examples = json.loads(next(r for r in app.scope.all() if r.name == ticket.issue_type).examples)
    assert (question in examples) is not rows[0].held_back
    assert "classifier example" in result.text or "held-back" in result.text


def test_forgetting_a_member_takes_their_words_out_of_the_classifier_examples(app) -> None:
    """A corrected ticket copies the member's question into an issue type's examples; erasure
    removes it there, from the flywheel's table and from the scope audit, keeping the rest."""
    from bot.models import AuditEntry, IssueType
    from bot.privacy.erasure import forget_member

    question = "my screen colours look wrong after the update, talk to a human"
    reply = ask(app, question, user="UGONE")
    assert reply.ticket_id, reply
    assert run_command(app, STAFF, f"ticket {reply.ticket_id} type data_export").ok
    app.classifier_job.wait()
    with Session(app.engine) as session:
        before = json.loads(session.get(IssueType, "data_export").examples)
    assert question in before

    counts = forget_member(app.engine, "slack:UGONE", actor="UADMIN")
    assert counts["classifier_examples"] == 1
    with Session(app.engine) as session:
        assert not session.exec(select(ClassifierExample)).all()
        kept = json.loads(session.get(IssueType, "data_export").examples)
        audits = session.exec(select(AuditEntry).where(AuditEntry.action == "scope add")).all()
    assert kept == [e for e in before if e != question] and kept
    assert audits and not any(question in a.before + a.after for a in audits)


def test_a_review_fix_can_make_the_question_a_phrasing_of_the_right_type(app) -> None:
    """`review tag … --phrasing TYPE`: the reviewed member question joins that type's examples
    (through the flywheel, retrained in the background); erasure takes it out again."""
    from bot.models import IssueType
    from bot.privacy.erasure import forget_member

    question = "can I get a copy of everything you store about my account"
    assert not is_held_back(question)
    cid = ask(app, question, user="UREV").conversation_id
    unknown = run_command(app, STAFF, f"review tag {cid} wrong-routing --phrasing vibes")
    assert not unknown.ok and "data_export" in unknown.text
    with Session(app.engine) as session:
        assert not session.exec(select(ClassifierExample)).all()

    done = run_command(app, STAFF, f"review tag {cid} wrong-routing --phrasing data_export")
    assert done.ok and "example phrasing of `data_export`" in done.text
    assert "regression case" not in done.text  # a phrasing alone names no route to replay
    app.classifier_job.wait()
    with Session(app.engine) as session:
        row = session.exec(select(ClassifierExample)).one()
        examples = json.loads(session.get(IssueType, "data_export").examples)
    assert (row.source, row.ref, row.held_back) == (
        "review_phrasing",
        f"conversation #{cid}",
        False,
    )
    assert question in examples
    assert _points(app), "the background retrain recorded a learning-curve point"

    assert forget_member(app.engine, "slack:UREV")["classifier_examples"] == 1
    with Session(app.engine) as session:
        assert question not in json.loads(session.get(IssueType, "data_export").examples)
