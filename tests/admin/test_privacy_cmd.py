"""`/deskhand privacy show|set`: admins choose drop / mask / keep per kind; audited and undoable."""

from __future__ import annotations

from sqlmodel import Session, col, select

from admin_commands import run_command
from bot.models import AuditEntry, Message
from tests.admin.conftest import ADMIN, MEMBER, STAFF, ask


def stored_member_texts(app) -> list[str]:
    with Session(app.engine) as session:
        rows = session.exec(select(Message.text).where(Message.role == "member"))
        return list(rows)


def test_privacy_set_changes_what_the_next_message_keeps(app) -> None:
    shown = run_command(app, STAFF, "privacy show")
    assert shown.ok and shown.table[6][:2] == ["phone", "mask"]
    ask(app, "call me on +44 20 7946 0958 about billing", user="U1")
    assert "[phone]" in stored_member_texts(app)[-1]

    changed = run_command(app, ADMIN, "privacy set phone keep")
    assert changed.ok and "mask → keep" in changed.text
    ask(app, "call me on +44 20 7946 0958 about billing", user="U2")
    assert "+44 20 7946 0958" in stored_member_texts(app)[-1]
    with Session(app.engine) as session:
        entry = session.exec(
            select(AuditEntry)
            .where(AuditEntry.action == "set privacy")
            .order_by(col(AuditEntry.id))
        ).all()[-1]
    assert '"phone": "keep"' in entry.after and entry.actor.startswith("slack:UADMIN")

    undo = run_command(app, ADMIN, f"audit undo {entry.id}")
    assert undo.ok
    ask(app, "call me on +44 20 7946 0958 about billing", user="U3")
    assert "[phone]" in stored_member_texts(app)[-1]


def test_privacy_set_rejects_bad_input_and_non_admins(app) -> None:
    assert not run_command(app, MEMBER, "privacy set phone keep").ok
    assert not run_command(app, STAFF, "privacy set phone keep").ok
    bad_kind = run_command(app, ADMIN, "privacy set ssn drop")
    assert not bad_kind.ok and "Unknown kind" in bad_kind.text
    bad_policy = run_command(app, ADMIN, "privacy set card hide")
    assert not bad_policy.ok and "drop, mask or keep" in bad_policy.text
    secret_kept = run_command(app, ADMIN, "privacy set card keep")
    assert secret_kept.ok and "Careful" in secret_kept.text
