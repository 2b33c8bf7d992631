"""Imports: Markdown with front matter, FAQ JSONL, HTML, URLs; bad files are named and not written."""

from __future__ import annotations

import http.server
import json
import threading
from pathlib import Path

import pytest

from knowledge.errors import KnowledgeError
from knowledge.ingest import import_path, import_url


def _write(path: Path, text: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def test_markdown_folder_with_front_matter(kb, tmp_path):
    docs = tmp_path / "docs"
    _write(
        docs / "refunds.md",
        "---\ntitle: Refund policy\nurl: https://help.example.com/refunds\ntopic: billing\n"
        "tags: [money, policy]\nowner: U123\n---\n\nRefunds are paid within 14 days.\n",
    )
    _write(
        docs / "guides" / "sso.md", "# Single sign-on\n\nEnable SAML under Settings > Security.\n"
    )
    _write(docs / "dark_mode.markdown", "Toggle it under Settings > Theme.")
    _write(docs / "notes.txt", "ignored: not a supported type")
    seen = []
    report = import_path(kb, docs, progress=lambda d, t: seen.append((d, t)))
    assert report.errors == [] and (report.added, report.files) == (3, 3)
    assert seen[0] == (0, 3) and seen[-1] == (3, 3)
    arts = {a.title: a for a in kb.list()}
    assert set(arts) == {"Refund policy", "Single sign-on", "Dark mode"}
    refund = arts["Refund policy"]
    assert (refund.url, refund.topic, refund.tags, refund.owner) == (
        "https://help.example.com/refunds",
        "billing",
        "money,policy",
        "U123",
    )
    assert refund.external_id == "refunds" and refund.source.endswith("refunds.md")
    assert arts["Single sign-on"].body == "Enable SAML under Settings > Security."
    assert kb.list(topic="billing") == [refund]
    assert kb.search("how do I set up SAML", k=1)[0].title == "Single sign-on"


def test_faq_jsonl_and_reimport_updates_instead_of_duplicating(kb, tmp_path):
    rows = [
        {"id": "a1", "question": "How do I cancel?", "answer": "Settings > Plan > Cancel."},
        {"id": "a2", "question": "Do you offer discounts?", "answer": "Yes, 50% for non-profits."},
    ]
    faq = _write(tmp_path / "faq.jsonl", "\n".join(json.dumps(r) for r in rows) + "\n\n")
    report = import_path(kb, faq)
    assert (report.added, report.updated, report.skipped, report.errors) == (2, 0, 0, [])
    first = {a.external_id: a for a in kb.list()}
    assert (
        first["a1"].title == "How do I cancel?" and first["a1"].body == "Settings > Plan > Cancel."
    )

    rows[1]["answer"] = "Yes, 30% for non-profits and students."
    rows.append({"id": "a3", "question": "Is there an API?", "answer": "Yes, REST."})
    _write(faq, "\n".join(json.dumps(r) for r in rows))
    report = import_path(kb, faq)
    assert (report.added, report.updated, report.skipped) == (1, 1, 1)
    after = {a.external_id: a for a in kb.list()}
    assert len(after) == 3 and after["a2"].id == first["a2"].id and after["a2"].version == 2
    assert "students" in kb.search("student discount", k=1)[0].text
    assert "non-profits." not in " ".join(h.text for h in kb.search("discount", k=5)).replace(
        "non-profits and", ""
    )


@pytest.mark.parametrize(
    ("name", "content", "line", "message"),
    [
        (
            "bad.jsonl",
            '{"id": "1", "question": "Q1", "answer": "A1"}\n{"id": "2", "question": "Q2"\n',
            2,
            "bad JSON",
        ),
        (
            "noanswer.jsonl",
            '{"id": "1", "question": "Q1", "answer": "A1"}\n\n{"id": "2", "question": "Q2"}\n',
            3,
            'missing or empty "answer"',
        ),
        (
            "dupe.jsonl",
            '{"id": "1", "question": "Q1", "answer": "A1"}\n{"id": "1", "question": "Q2", "answer": "A2"}\n',
            2,
            "duplicate id",
        ),
        (
            "array.jsonl",
            '{"id": "1", "question": "Q1", "answer": "A1"}\n[1, 2]\n',
            2,
            "expected a JSON object",
        ),
        ("yaml.md", "---\ntitle: Fine\ntags: [a, b\n---\nBody text.\n", 3, "bad YAML front matter"),
        ("list.md", "---\n- just\n- a list\n---\nBody.\n", 2, "front matter must be a mapping"),
        ("open.md", "---\ntitle: never closed\nBody.\n", 1, "never closed"),
        ("empty.md", "---\ntitle: Empty\n---\n\n   \n", 4, "empty body"),
        ("binary.md", b"# Title\n\nline two\n\xff\xfe broken\n", 4, "not valid UTF-8"),
        (
            "blank.html",
            "<html><head><title>Nothing</title></head><body><script>x()</script></body></html>",
            1,
            "no readable text",
        ),
    ],
)
def test_malformed_files_are_reported_by_name_and_line_and_not_written(
    kb, tmp_path, name, content, line, message
):
    folder = tmp_path / "in"
    bad = _write(folder / name, content)
    _write(folder / "good.md", "# Good\n\nThis one is fine.")
    report = import_path(kb, folder)
    assert report.added == 1 and len(report.errors) == 1
    assert report.errors[0].startswith(f"{bad}:{line}: ")
    assert message in report.errors[0]
    assert [a.title for a in kb.list()] == ["Good"]  # nothing from the bad file
    assert kb.index.count() == 2  # only the good article's chunks


def test_html_file_is_stripped_to_text(kb, tmp_path):
    page = _write(
        tmp_path / "shipping.html",
        "<html><head><title>Shop - Shipping</title><style>p{color:red}</style></head><body>"
        "<nav>Home | Pricing</nav><h1>Shipping times</h1><p>We ship in <b>2&nbsp;days</b>.</p>"
        "<h2>International</h2><ul><li>EU: 5 days</li><li>US: 7 days</li></ul>"
        "<script>track()</script><footer>(c) Shop</footer></body></html>",
    )
    report = import_path(kb, page)
    assert report.errors == [] and report.added == 1
    art = kb.list()[0]
    assert art.title == "Shipping times"
    assert "We ship in 2 days." in art.body and "## International" in art.body
    assert "- EU: 5 days" in art.body
    for junk in ("track()", "color:red", "Pricing", "(c) Shop"):
        assert junk not in art.body
    assert kb.search("how long does shipping to the EU take", k=1)[0].article_id == art.id


def test_missing_path_is_a_knowledge_error(kb, tmp_path):
    with pytest.raises(KnowledgeError, match="no such file"):
        import_path(kb, tmp_path / "nope")


class _Handler(http.server.BaseHTTPRequestHandler):
    pages = {
        "/help/billing": (
            "text/html",
            "<html><body><h1>Billing FAQ</h1><p>Invoices are sent monthly.</p></body></html>",
        ),
        "/raw.md": (
            "text/markdown",
            "---\ntopic: api\n---\n# API limits\n\n100 requests per minute.",
        ),
    }

    def do_GET(self) -> None:  # noqa: N802
        if self.path not in self.pages:
            self.send_error(404)
            return
        ctype, body = self.pages[self.path]
        data = body.encode()
        self.send_response(200)
        self.send_header("Content-Type", f"{ctype}; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def local_site():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_import_url_html_and_markdown_then_update(kb, local_site):
    art = import_url(kb, f"{local_site}/help/billing")
    assert art.title == "Billing FAQ" and art.url == f"{local_site}/help/billing"
    md = import_url(kb, f"{local_site}/raw.md")
    assert (md.title, md.topic) == ("API limits", "api")
    again = import_url(kb, f"{local_site}/help/billing")
    assert again.id == art.id and again.version == 1 and len(kb.list()) == 2
    assert kb.search("when are invoices sent", k=1)[0].article_id == art.id


def test_import_url_failures_are_clear_errors(kb, local_site):
    with pytest.raises(KnowledgeError, match="HTTP 404"):
        import_url(kb, f"{local_site}/missing")
    with pytest.raises(KnowledgeError, match="could not fetch .*network"):
        import_url(kb, "http://127.0.0.1:9/unreachable", timeout=2)
    with pytest.raises(KnowledgeError, match="not an http"):
        import_url(kb, "file:///etc/passwd")
    assert kb.list() == []
