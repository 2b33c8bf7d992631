"""`/deskhand stats … trend`: a day/week series and a real line-chart PNG whose data matches."""

from __future__ import annotations

import io
import json
from datetime import timedelta

import matplotlib.image
from PIL import Image
from sqlmodel import Session, select

from admin_commands import run_command
from bot.models import Conversation, Decision
from tests.admin.conftest import STAFF, ask

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _age(app, conversation_id: int, days: int) -> None:
    """Move a conversation (and its decisions) `days` into the past."""
    with Session(app.engine) as session:
        conv = session.get(Conversation, conversation_id)
        conv.created_at -= timedelta(days=days)
        session.add(conv)
        for d in session.exec(select(Decision).where(Decision.conversation_id == conversation_id)):
            d.created_at -= timedelta(days=days)
            session.add(d)
        session.commit()


def test_trend_by_day_draws_the_recorded_counts(app) -> None:
    old = ask(app, "I want to talk to a human", user="U1")  # escalated, 3 days ago
    _age(app, old.conversation_id, 3)
    assert ask(app, "How do I export my data?", user="U2").route == "answer"
    assert ask(app, "I want to talk to a human", user="U3").route == "escalate"
    result = run_command(app, STAFF, "stats 7d trend day")
    assert result.ok, result.text
    png = result.image_png
    assert png.startswith(PNG_MAGIC)
    pixels = matplotlib.image.imread(io.BytesIO(png), format="png")
    assert pixels.ndim == 3 and pixels.shape[1] > 300 and pixels.std() > 0
    data = json.loads(Image.open(io.BytesIO(png)).text["Description"])
    assert data["kind"] == "lines" and len(data["labels"]) in (8, 9)
    assert sum(data["conversations"]) == 3
    assert data["conversations"][-1] == 2 and data["conversations"][-4] == 1
    assert data["series"]["escalation_rate"][-1] == 0.5
    assert data["series"]["escalation_rate"][-4] == 1.0
    assert data["series"]["escalation_rate"][0] is None  # no conversations: a gap, not a zero
    header, *rows = result.table
    assert header[:2] == ["Period", "Conversations"] and len(rows) == len(data["labels"])
    assert rows[-1][1] == "2" and rows[-1][header.index("escalation_rate")] == "50%"


def test_trend_by_segment_one_line_per_segment(app) -> None:
    ask(app, "How do I export my data?", user="U1")
    ask(app, "calendar sync", platform="discord", channel="9001", user="U2")
    result = run_command(app, STAFF, "stats 8w trend week resolution_rate by platform")
    assert result.ok, result.text
    data = json.loads(Image.open(io.BytesIO(result.image_png)).text["Description"])
    assert set(data["series"]) == {"slack", "discord"} and data["figure"] == "resolution_rate"
    assert data["series"]["slack"][-1] == 1.0 and sum(data["conversations"]) == 2


def test_new_segments_and_bad_input_in_chat(app) -> None:
    ask(app, "How do I export my data?", user="U1")
    assert run_command(app, STAFF, "stats 30d by team").ok
    assert run_command(app, STAFF, "stats by bot-version").ok
    bad = run_command(app, STAFF, "stats 8w trend by colour")
    assert not bad.ok and "colour" in bad.text
    assert not run_command(app, STAFF, "stats 99y").ok
