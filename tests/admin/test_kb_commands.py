"""`kb ...` through run_command against the real knowledge base, and the next message sees it."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from admin_commands import ModalSpec, run_command, run_command_form
from tests.admin.conftest import ADMIN, STAFF, ask

RESET_ARTICLE_TITLE = "Reset your password"


def _reset_article(app):
    return next(a for a in app.kb.list() if a.title == RESET_ARTICLE_TITLE)


def test_kb_edit_is_answered_on_the_next_message(app) -> None:
    art = _reset_article(app)
    first = ask(app, "How do I reset my password?")
    assert first.route == "answer" and "Zephyr" not in first.text
    new_body = (
        "To reset your password, open the Zephyr recovery portal and choose Forgot password. "
        "Zephyr emails you a reset link that works for 30 minutes."
    )
    result = run_command(app, ADMIN, f'kb edit {art.id} --body "{new_body}"')
    assert result.ok, result.text
    assert "version 2" in result.text and "audit undo" in result.text
    second = ask(app, "How do I reset my password?")
    assert second.route == "answer"
    assert "Zephyr" in second.text
    assert second.citations[0].article_id == art.id


def test_kb_add_inline_then_show_list_search(app) -> None:
    result = run_command(
        app,
        ADMIN,
        'kb add "Rename a workspace" "Open Settings, then Workspace, then Rename. Only owners '
        'can rename a workspace." --topic workspace --url https://help.example.com/rename',
    )
    assert result.ok, result.text
    new_id = int(dict(result.fields)["ID"])
    shown = run_command(app, STAFF, f"kb show {new_id}")
    assert shown.ok and "Only owners" in shown.text
    assert dict(shown.fields)["URL"] == "https://help.example.com/rename"
    listed = run_command(app, STAFF, "kb list workspace")
    assert [row[1] for row in listed.table[1:]] == ["Rename a workspace"]
    found = run_command(app, STAFF, "kb search how can I rename my workspace")
    assert found.ok and found.table[1][1] == str(new_id)
    assert float(found.table[1][3]) > 0
    reply = ask(app, "how can I rename my workspace?")
    assert reply.route in {"answer", "clarify"}
    assert new_id in {c.article_id for c in reply.citations} | {
        int(o.value) for o in reply.options if o.value.isdigit()
    }


def test_kb_add_without_body_returns_a_modal_and_the_form_adds_it(app) -> None:
    result = run_command(app, ADMIN, 'kb add "Multi-line article"')
    assert result.ok and isinstance(result.modal, ModalSpec)
    assert result.modal.command == "kb add"
    names = [f.name for f in result.modal.fields]
    assert names[:2] == ["title", "body"] and result.modal.fields[1].multiline
    assert result.modal.fields[0].default == "Multi-line article"
    submitted = run_command_form(
        app,
        ADMIN,
        result.modal.command,
        {"title": "Multi-line article", "body": "Line one.\n\nLine two.", "url": "", "topic": ""},
    )
    assert submitted.ok, submitted.text
    art = app.kb.get(int(dict(submitted.fields)["ID"]))
    assert art.body == "Line one.\n\nLine two." and art.topic == "general"


def test_kb_edit_without_changes_opens_a_prefilled_modal(app) -> None:
    art = _reset_article(app)
    result = run_command(app, ADMIN, f"kb edit {art.id}")
    assert result.modal is not None and result.modal.command == f"kb edit {art.id}"
    assert dict((f.name, f.default) for f in result.modal.fields)["body"] == art.body
    values = {f.name: f.default for f in result.modal.fields}
    values["title"] = "Reset or change your password"
    done = run_command_form(app, ADMIN, result.modal.command, values)
    assert done.ok, done.text
    assert app.kb.get(art.id).title == "Reset or change your password"
    assert "title" in done.text
    # Forms are permission-checked too.
    refused = run_command_form(app, STAFF, result.modal.command, values)
    assert not refused.ok and refused.title == "Not allowed"


def test_history_revert_remove_and_undo(app) -> None:
    art = _reset_article(app)
    original = art.body
    assert run_command(app, ADMIN, f'kb edit {art.id} --body "Short new body."').ok
    history = run_command(app, STAFF, f"kb history {art.id}")
    assert [row[:2] for row in history.table[1:]] == [["1", "create"], ["2", "edit"]]
    reverted = run_command(app, ADMIN, f"kb revert {art.id} 1")
    assert reverted.ok and app.kb.get(art.id).body == original
    assert app.kb.get(art.id).version == 3
    removed = run_command(app, ADMIN, f"kb remove {art.id}")
    assert removed.ok
    assert not run_command(app, STAFF, f"kb show {art.id}").ok
    audit_id = removed.text.rsplit("audit undo ", 1)[1].split("`")[0]
    undone = run_command(app, ADMIN, f"audit undo {audit_id}")
    assert undone.ok, undone.text
    restored = next(a for a in app.kb.list() if a.title == RESET_ARTICLE_TITLE)
    assert restored.body == original
    assert ask(app, "How do I reset my password?").citations[0].article_id == restored.id
    assert not run_command(app, ADMIN, f"audit undo {audit_id}").ok  # not twice


def test_unknown_ids_are_clear_errors(app) -> None:
    for line in ("kb show 99999", "kb edit 99999 --body x", "kb revert 1 99", "kb approve 777"):
        result = run_command(app, ADMIN, line)
        assert not result.ok and ("no " in result.text.lower() or "There is" in result.text)


class _Page(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802
        if self.path != "/guides/offline-mode":
            self.send_error(404)
            return
        body = (
            b"<html><head><title>Offline mode</title></head><body><h1>Use Lumen offline</h1>"
            b"<p>Lumen keeps your last 30 days of tasks on the device. Edits made offline sync "
            b"when you reconnect.</p></body></html>"
        )
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def page_server() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Page)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()


def test_kb_import_url_from_a_loopback_page_and_undo(app, page_server) -> None:
    url = f"{page_server}/guides/offline-mode"
    result = run_command(app, ADMIN, f"kb import <{url}|{url}>")
    assert result.ok, result.text
    art = next(a for a in app.kb.list() if a.title == "Use Lumen offline")
    assert "30 days" in art.body and art.url == url
    again = run_command(app, ADMIN, f"kb import {url}")
    assert again.ok and again.title == "Nothing to import"
    audit_id = result.text.rsplit("audit undo ", 1)[1].split("`")[0]
    assert run_command(app, ADMIN, f"audit undo {audit_id}").ok
    assert all(a.title != "Use Lumen offline" for a in app.kb.list())


def test_kb_import_failure_is_a_clear_error(app, page_server) -> None:
    missing = run_command(app, ADMIN, f"kb import {page_server}/nope")
    assert not missing.ok and "404" in missing.text
    closed = run_command(app, ADMIN, "kb import http://127.0.0.1:9/")
    assert not closed.ok and "could not fetch" in closed.text
    not_http = run_command(app, ADMIN, "kb import ftp://example.com/x")
    assert not not_http.ok and "http" in not_http.text


def _candidate(app, question: str, answer: str):
    return app.kb.add_candidate(
        question, answer, ticket_id=None, staff_id="USTAFF", topic="billing"
    )


def test_candidates_approve_with_edits_reject_and_undo(app) -> None:
    c1 = _candidate(app, "Can I pay by invoice?", "Yes: annual plans can pay by invoice.")
    c2 = _candidate(app, "Do you take cheques?", "No.")
    listed = run_command(app, STAFF, "kb candidates")
    assert [row[0] for row in listed.table[1:]] == [str(c1.id), str(c2.id)]

    review = run_command(app, STAFF, f"kb approve {c1.id}")
    assert review.modal is not None and review.modal.command == f"kb approve {c1.id}"
    values = {f.name: f.default for f in review.modal.fields}
    assert values["body"] == c1.answer
    values["title"] = "Pay by invoice"
    approved = run_command_form(app, STAFF, review.modal.command, values)
    assert approved.ok, approved.text
    art = next(a for a in app.kb.list() if a.title == "Pay by invoice")
    assert art.body == c1.answer and art.source == f"candidate:{c1.id}"

    rejected = run_command(app, STAFF, f"kb reject {c2.id}")
    assert rejected.ok
    assert run_command(app, STAFF, "kb candidates").title == "No candidates"
    assert not run_command(app, STAFF, f"kb reject {c2.id}").ok  # already rejected

    undo_id = approved.text.rsplit("audit undo ", 1)[1].split("`")[0]
    assert run_command(app, ADMIN, f"audit undo {undo_id}").ok
    assert all(a.title != "Pay by invoice" for a in app.kb.list())
    assert [c.id for c in app.kb.list_candidates()] == [c1.id]
    as_is = run_command(app, STAFF, f"kb approve {c1.id} --as-is")
    assert as_is.ok and any(a.title == c1.question for a in app.kb.list())
