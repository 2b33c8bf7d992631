"""The weekly digest on simulated traffic: figures, drift, actions, a PNG whose data matches."""

from __future__ import annotations

import io
import json
from collections import Counter
from datetime import UTC, datetime, timedelta

import matplotlib.image
from PIL import Image
from sqlmodel import Session, select

from admin_commands import run_command
from bot.models import Conversation
from bot.monitoring.digest import DIGEST_KIND, record_due_digest
from bot.monitoring.poster import AlertPoster, claim_posts
from bot.monitoring.simulate import Drift, SimConfig, simulate
from knowledge.models import utcnow
from tests.admin.conftest import ADMIN, STAFF

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _issue_counts(app, since: datetime, until: datetime) -> Counter:
    """Conversations per issue type started in (since, until], straight from the table."""
    with Session(app.engine) as session:
        rows = session.exec(
            select(Conversation.issue_type, Conversation.created_at).where(
                Conversation.created_at > since, Conversation.created_at <= until
            )
        ).all()
    return Counter(issue or "unclassified" for issue, _ in rows)


def test_digest_on_demand_from_simulated_weeks_with_a_drift(app) -> None:
    now = utcnow()
    sim = simulate(
        app.engine, SimConfig(days=14, seed=5, start=now - timedelta(days=14), drift=Drift(day=10))
    )
    result = run_command(app, STAFF, "digest")
    assert result.ok, result.text
    assert result.image_png.startswith(PNG_MAGIC)
    pixels = matplotlib.image.imread(io.BytesIO(result.image_png), format="png")
    assert pixels.ndim == 3 and pixels.std() > 0
    data = json.loads(Image.open(io.BytesIO(result.image_png)).text["Description"])
    this = _issue_counts(app, now - timedelta(days=7), now + timedelta(seconds=5))
    last = _issue_counts(app, now - timedelta(days=14), now - timedelta(days=7))
    assert data["kind"] == "bars" and data["labels"]
    for i, issue in enumerate(data["labels"]):
        assert data["series"]["this week"][i] == this[issue], issue
        assert data["series"]["last week"][i] == last[issue], issue
    assert data["totals"] == {"this week": sum(this.values()), "last week": sum(last.values())}
    header, conversations, *_ = result.table
    assert header == ["Figure", "This week", "Last week", "Change"]
    assert conversations[1:3] == [str(sum(this.values())), str(sum(last.values()))]
    fields = dict(result.fields)
    assert sim.drift_topic in fields["Escalation rate rising"]
    assert f"#{sim.drift_article_id} " in fields["Worst Not-helpful articles"].splitlines()[0]
    assert "days" in fields["Stalest articles"] and "/5" in fields["CSAT by AI use"]
    actions = fields["Suggested actions"].splitlines()
    assert len(actions) == 3 and sim.drift_topic in actions[0]
    for line in actions:  # each action names a command that really runs
        command = line.rsplit("`/deskhand ", 1)[1].rstrip("`")
        ran = run_command(app, ADMIN, command)
        assert ran.ok or ran.modal is not None, (command, ran.text)


def test_weekly_schedule_records_once_and_posts_to_the_digest_channel(app) -> None:
    assert run_command(app, ADMIN, "digest set day wed").ok
    assert run_command(app, ADMIN, "digest set time 16:30").ok
    assert run_command(app, ADMIN, "digest set channel slack <#CLEADS|leads>").ok
    assert not run_command(app, ADMIN, "digest set day someday").ok
    assert not run_command(app, ADMIN, "digest set time 25:00").ok
    assert not run_command(app, ADMIN, "digest set timezone Mars/Olympus").ok
    assert not run_command(app, STAFF, "digest set day fri").ok  # admins only
    wednesday = datetime(2026, 12, 2, 16, 0, tzinfo=UTC)
    assert record_due_digest(app, wednesday) is None  # 16:00 < 16:30
    event = record_due_digest(app, wednesday + timedelta(minutes=45))
    assert event is not None and event.key == f"{DIGEST_KIND}:2026-W49"
    assert record_due_digest(app, wednesday + timedelta(days=1)) is None  # once a week
    assert run_command(app, ADMIN, "alerts set max_per_hour 0").ok  # the digest is not an alert
    at = wednesday + timedelta(hours=1)
    [post] = [p for p in claim_posts(app, "slack", at) if p.kind == DIGEST_KIND]
    assert post.channel == "CLEADS" and post.image_png.startswith(PNG_MAGIC)
    assert dict(post.fields)["Suggested actions"].count("`/deskhand ") == 3
    assert post.table[0] == ["Figure", "This week", "Last week", "Change"]
    AlertPoster(app, "slack").sent(post, at)
    assert not [p for p in claim_posts(app, "slack", at) if p.kind == DIGEST_KIND]
    assert record_due_digest(app, wednesday + timedelta(days=7, hours=1)) is not None
    assert run_command(app, ADMIN, "digest set off").ok
    assert record_due_digest(app, wednesday + timedelta(days=14, hours=1)) is None


def test_digest_post_now_goes_through_the_poster(app) -> None:
    assert run_command(app, STAFF, "digest post").ok
    assert not run_command(app, STAFF, "digest everything").ok
    [post] = [p for p in claim_posts(app, "slack") if p.kind == DIGEST_KIND]
    assert post.channel == "CSTAFF" and post.title.startswith("📊 Weekly review")


def test_digest_counts_review_root_causes_this_week_against_last(app) -> None:
    from bot.models import ReviewTag

    now = utcnow()
    with Session(app.engine) as session:
        for cid, cause, age in [
            (1, "knowledge-missing", 1),
            (2, "knowledge-missing", 2),
            (3, "wrong-retrieval", 3),
            (4, "knowledge-missing", 9),  # last week
            (5, "correct", 10),
            (3, "skipped", 20),  # older than both weeks: not counted
        ]:
            session.add(ReviewTag(conversation_id=cid, cause=cause,
                                  created_at=now - timedelta(days=age)))  # fmt: skip
        session.commit()
    before = run_command(app, STAFF, "digest")
    fields = dict(before.fields)
    lines = fields["Review root causes"].splitlines()
    assert lines == [
        "knowledge-missing: 2 (last week 1)",
        "wrong-retrieval: 1 (last week 0)",
        "correct: 0 (last week 1)",
    ]
    assert "/deskhand review" not in fields["Suggested actions"]


def test_digest_suggests_the_review_queue_when_nothing_was_reviewed(app) -> None:
    from bot.monitoring.digest import weekly_digest

    digest = weekly_digest(app.engine)
    assert digest.review_causes == {}
    assert {"text": "No conversation was reviewed this week; work through the queue:",
            "command": "/deskhand review"} in digest.actions  # fmt: skip
    assert dict(digest.fields())["Review root causes"] == "—"
