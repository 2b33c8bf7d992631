"""Publishing a candidate with an edited answer needs an admin or a second staff member."""

from __future__ import annotations

from admin_commands import Caller, run_command
from bot.audit import recent_audit
from tests.admin.conftest import ADMIN, STAFF

OTHER_STAFF = Caller("slack", "UOTHERSTAFF", "Kim")


def _candidate(app):
    return app.kb.add_candidate(
        "Can I pay by invoice?", "Yes: annual plans can pay by invoice.", staff_id="USTAFF"
    )


def _titles(app) -> set[str]:
    return {a.title for a in app.kb.list()}


def test_staff_edited_body_waits_for_a_second_staff_member(app) -> None:
    app.settings.set("staff_users", ["slack:UOTHERSTAFF"], actor="test")
    cand = _candidate(app)
    body = "Pay at https://lumen.example/billing by invoice."
    proposed = run_command(app, STAFF, f'kb approve {cand.id} --body "{body}"')
    assert proposed.ok and "second" in proposed.text.lower()
    assert cand.question not in _titles(app)  # nothing published yet
    own = run_command(app, STAFF, f"kb approve {cand.id} --second")
    assert not own.ok and "another staff member" in own.text
    second = run_command(app, OTHER_STAFF, f"kb approve {cand.id} --second")
    assert second.ok, second.text
    art = next(a for a in app.kb.list() if a.title == cand.question)
    assert art.body == body
    actions = [e.action for e in recent_audit(app.engine, 10)]
    assert "kb approve proposed" in actions and "kb approve" in actions


def test_admin_publishes_an_edited_body_at_once(app) -> None:
    cand = _candidate(app)
    done = run_command(app, ADMIN, f'kb approve {cand.id} --body "Invoices: annual plans only."')
    assert done.ok, done.text
    assert next(a for a in app.kb.list() if a.title == cand.question).body == (
        "Invoices: annual plans only."
    )


def test_as_is_and_title_only_edits_need_no_second_person(app) -> None:
    cand = _candidate(app)
    done = run_command(app, STAFF, f'kb approve {cand.id} --title "Paying by invoice"')
    assert done.ok and "Paying by invoice" in _titles(app)


def test_second_without_a_proposal_is_explained(app) -> None:
    cand = _candidate(app)
    result = run_command(app, STAFF, f"kb approve {cand.id} --second")
    assert not result.ok and "no edited text" in result.text
