"""The improvement loop end to end on the traffic simulator, through the real commands.

A bad KB edit breaks an article; simulated weeks show its effect; real members get wrong answers
and press Not helpful. Staff find it in the review queue (root-cause tag and fix) and the gaps
report, draft the fix, replay the regression cases with `deskhand eval history --json` (the fix
passes, the live article fails), try it on 20 % in an experiment, see `experiment status` call the
difference real, and promote it: afterwards everyone gets the fixed article.
"""

from __future__ import annotations

import json
import math
import re

from sqlmodel import Session, select

from admin_commands import run_command
from bot.models import Decision
from bot.monitoring.simulate import Drift, SimConfig, SimExperiment, simulate
from tests.admin.conftest import ADMIN, STAFF, ask
from tests.improve.conftest import not_helpful

LOCKED = "I'm locked out of my account"  # answered from the sign-in article before the edit
TOPIC = "account_access"  # the simulator's busiest issue type; its article is the sign-in one
DRIFT_DAY = 14
BAD_TITLE = "Hub setup and pairing"
BAD_BODY = (
    "Plug the Hub into power, wait for the light to turn green, then pair it from the app "
    "under Devices. Pairing takes about a minute."
)


def _eval_history(app, monkeypatch, capsys, *extra: str) -> dict:
    """`deskhand eval history --json` on this app's home (the CLI, in process)."""
    from bot.cli import main

    monkeypatch.setenv("DESKHAND_HOME", app.config.home)
    monkeypatch.setattr("bot.app.get_app", lambda config=None: app)
    capsys.readouterr()
    code = main(["eval", "history", "--json", *extra])
    data = json.loads(capsys.readouterr().out)
    return {"exit": code, **data}


def _audit_id(text: str) -> int:
    return int(re.search(r"audit undo (\d+)", text).group(1))


def _arm(app, conversation_id: int) -> str:
    with Session(app.engine) as session:
        arms = set(
            session.exec(select(Decision.arm).where(Decision.conversation_id == conversation_id))
        )
    assert len(arms) == 1
    return arms.pop()


def _more(text: str) -> int:
    return int(re.search(r"about (\d+) more conversations", text).group(1))


def _sim(app, days: int, per_day: float, seed: int, experiment: SimExperiment | None = None):
    """Simulated traffic in which the account article fails from `DRIFT_DAY` on (the bad edit)."""
    drift = Drift(topic=TOPIC, day=DRIFT_DAY if experiment is None else 0)
    return simulate(app.engine, SimConfig(days=days, per_day=per_day, seed=seed, drift=drift,
                                          experiment=experiment))  # fmt: skip


def test_a_bad_edit_is_found_fixed_tested_rolled_out_detected_and_promoted(
    app, monkeypatch, capsys
) -> None:
    # Three weeks of traffic; from day 14 the sign-in article stops helping (the bad edit).
    article = _sim(app, days=21, per_day=40, seed=11).drift_article_id
    assert article is not None
    good = app.kb.get(article)
    assert ask(app, LOCKED, user="UOK").citations[0].article_id == article  # fine before
    bad = run_command(app, ADMIN, f'kb edit {article} --title "{BAD_TITLE}" --body "{BAD_BODY}"')
    assert bad.ok, bad.text
    wrong = []  # members after the edit get another article, and say it did not help
    for i in range(3):
        reply = ask(app, LOCKED, user=f"ULOCK{i}")
        assert reply.route == "answer" and reply.citations[0].article_id != article, reply
        not_helpful(app, reply, f"ULOCK{i}")
        wrong.append(reply)

    # Found: the review queue serves a Not-helpful conversation with its trace; tag its cause.
    review = run_command(app, STAFF, "review")
    assert review.ok and review.title == f"Review conversation #{wrong[-1].conversation_id}"
    assert "Not helpful" in review.text and LOCKED in review.text, review.text
    assert f"#{wrong[-1].citations[0].article_id} " in review.text  # what it retrieved
    tagged = run_command(
        app,
        STAFF,
        f'review tag {wrong[-1].conversation_id} knowledge-outdated "#{article} was overwritten" '
        f"--article {article} --route answer",
    )
    assert tagged.ok, tagged.text
    # ... and in the gaps report: the edited article has the worst Not-helpful rate.
    gaps = run_command(app, STAFF, "gaps")
    worst = dict(gaps.fields)["Worst Not-helpful rate"]
    assert worst.startswith(f"#{article} {BAD_TITLE[:20]}"), worst

    # Fixed: a draft restores the text before the edit; the regression replay proves it.
    drafted = run_command(app, STAFF, f"kb draft {article} --version 1")
    assert drafted.ok, drafted.text
    fix = int(re.search(r"Candidate \*\*#(\d+)", drafted.text).group(1))
    live = _eval_history(app, monkeypatch, capsys)
    case = next(r for r in live["results"] if r["question"] == LOCKED)
    assert case["source"] == "review_fix" and case["passed"] is False  # the live KB fails it
    tried = _eval_history(app, monkeypatch, capsys, "--kb-drafts", str(fix))
    assert tried["exit"] == 0 and tried["cases"] == live["cases"] >= 1
    assert tried["passed"] == tried["cases"], tried["results"]  # the fix passes every case
    assert app.kb.get(article).title == BAD_TITLE  # replaying published nothing

    # Rolled out to 20 %: candidate conversations get the fixed article, the rest the live one.
    started = run_command(app, ADMIN, f"experiment start fix-signin kb-drafts {fix} --share 20%")
    assert started.ok, started.text
    seen: dict[str, int] = {"baseline": 0, "candidate": 0}
    for i in range(40):
        reply = ask(app, LOCKED, user=f"UROLL{i}", thread=f"roll-{i}")
        arm = _arm(app, reply.conversation_id)
        seen[arm] += 1
        fixed = reply.route == "answer" and reply.citations[0].article_id == article
        assert fixed == (arm == "candidate"), (arm, reply)
        if seen["candidate"] >= 2 and seen["baseline"] >= 4:
            break
    assert seen["candidate"] >= 2 and seen["baseline"] >= 4
    # Simulated volume on the experiment: the candidate arm's sign-in answers work again.
    enrolled = SimExperiment("fix-signin", 0.2, {"drift": None})
    _sim(app, days=2, per_day=30, seed=3, experiment=enrolled)
    early = run_command(app, STAFF, "experiment status fix-signin")
    assert "No real difference in bot resolution yet" in early.text, early.text
    needed = _more(early.text)
    per_day = 100  # weekends get half, so a week averages 6/7 of it
    _sim(app, days=math.ceil(needed / (per_day * 6 / 7)), per_day=per_day, seed=4,
         experiment=enrolled)  # fmt: skip
    status = run_command(app, STAFF, "experiment status fix-signin")
    if "is real" not in status.text:  # the fix is worth less than 10 points overall:
        finer = run_command(app, STAFF, "experiment status fix-signin --detect 5")  # size it
        more = _more(finer.text)
        _sim(app, days=math.ceil(more / (per_day * 6 / 7)), per_day=per_day, seed=5,
             experiment=enrolled)  # fmt: skip
        status = run_command(app, STAFF, "experiment status fix-signin")
    assert "The difference in bot resolution is real" in status.text, status.text
    assert "points better" in status.text
    rows = {row[0]: row for row in status.table[1:]}
    assert rows["Not helpful after an answer"][4] == "better"

    # Promoted: the fix is published; everyone gets the fixed article from the next message.
    promoted = run_command(app, ADMIN, "experiment promote fix-signin")
    assert promoted.ok and f"KB articles #{article} published" in promoted.text, promoted.text
    now = app.kb.get(article)
    assert (now.title, now.body) == (good.title, good.body)
    for i in range(5):
        reply = ask(app, LOCKED, user=f"UAFTER{i}", thread=f"after-{i}")
        assert _arm(app, reply.conversation_id) == ""  # no experiment: the baseline is the fix
        assert reply.route == "answer" and reply.citations[0].article_id == article
    after = _eval_history(app, monkeypatch, capsys)
    assert after["passed"] == after["cases"] == live["cases"]
