"""Self-calibration at import: thresholds picked from the team's own articles, shown to admins."""

from __future__ import annotations

from pathlib import Path

from bot.contracts import IncomingMessage, Member
from tests.conftest import make_app

PARCEL_KB = {
    "refunds-damaged": (
        "Refunds for damaged parcels",
        "If your parcel arrived damaged, you can claim a full refund within 30 days of delivery."
        "\n\n## How to claim\nTake a photo of the damaged box and its contents, then open "
        "**Orders → Report a problem** and choose *Arrived damaged*. Refunds go back to your "
        "original payment method within 5 working days.",
    ),
    "locker-pin": (
        "Parcel locker PIN codes",
        "When your parcel is placed in a locker we text you a six-digit PIN. Enter it on the "
        "locker screen to open the door.\n\n## PIN not working\nPINs expire after 72 hours. "
        "Request a new one from the app under **Deliveries → Locker**.",
    ),
    "tracking": (
        "Track your parcel",
        "Use the tracking number from your confirmation email on our tracking page to see where "
        "your parcel is.\n\n## Tracking hasn't updated\nTracking can pause for up to 48 hours "
        "while a parcel crosses a border.",
    ),
    "address": (
        "Change the delivery address",
        "You can change the delivery address until the parcel is out for delivery, from "
        "**Deliveries → Change address**.",
    ),
    "missed": (
        "Missed a delivery",
        "If we missed you, the courier leaves a card and tries again the next working day. After "
        "two attempts the parcel goes to your nearest locker.",
    ),
}


def write_kb(folder: Path) -> Path:
    folder.mkdir()
    for stem, (title, body) in PARCEL_KB.items():
        url = f"https://help.parcel.example/{stem}"
        text = f"---\ntitle: {title}\nurl: {url}\ntopic: deliveries\n---\n{body}\n"
        (folder / f"{stem}.md").write_text(text, encoding="utf-8")
    return folder


def test_unseen_help_center_calibrates_and_answers_the_one_clear_match(tmp_path, embedder) -> None:
    from knowledge.ingest import import_path

    app = make_app(tmp_path / "home", embedder, sample=False)
    import_path(app.kb, write_kb(tmp_path / "kb"))
    picked = app.recalibrate()
    assert 0.6 <= picked["answer"] <= 0.9 and picked["articles"] == 5
    assert picked["expected_wrong_rate"] <= picked["target_wrong_rate"]
    assert app.settings.thresholds()["answer"] == picked["answer"]

    def ask(n: int, text: str):
        msg = IncomingMessage("console", "help", f"p{n}", f"p{n}", text, Member(f"p{n}", "Ana"))
        return app.service.handle(msg)

    crushed = ask(1, "the box arrived crushed, can I get my money back?")
    assert crushed.route == "answer", crushed.reasons
    assert crushed.citations[0].title == "Refunds for damaged parcels"
    assert ask(2, "tell me a joke").route == "decline"
    assert ask(3, "can you recommend a pizza place?").route == "decline"
    app.engine.dispose()


def test_an_import_calibrates_before_any_member_writes(tmp_path, embedder) -> None:
    """The import starts calibration; the first message finds it done and does not redo it."""
    from knowledge.ingest import import_path

    app = make_app(tmp_path / "home", embedder, sample=False)
    assert not app.settings.get("calibration")
    import_path(app.kb, write_kb(tmp_path / "kb"))
    app.calibration_job.wait()
    picked = app.settings.get("calibration")
    assert picked["articles"] == 5 and picked["by"] == "start-up"
    msg = IncomingMessage("console", "help", "c1", "c1", "where is my parcel?", Member("c1"))
    app.service.handle(msg)
    assert app.settings.get("calibration")["at"] == picked["at"]  # not recalibrated on a message
    app.engine.dispose()


def test_start_up_calibrates_a_knowledge_base_that_never_was(tmp_path, embedder) -> None:
    """Articles from before self-calibration existed: the bot calibrates them when it starts."""
    from bot.app import Deskhand
    from bot.config import Config
    from knowledge.ingest import import_path

    old = make_app(tmp_path / "home", embedder, sample=False)
    old.kb.on_added.clear()  # as a version without import-time calibration would leave it
    import_path(old.kb, write_kb(tmp_path / "kb"))
    old.engine.dispose()
    assert not old.settings.get("calibration")

    app = Deskhand(Config(home=str(tmp_path / "home")), embedder=embedder)
    app.calibration_job.wait()
    assert app.settings.get("calibration")["articles"] == 5
    app.engine.dispose()


def test_near_duplicate_articles_are_offered_not_guessed(tmp_path, embedder) -> None:
    """Two articles that say the same thing: the bot asks which one instead of picking one."""
    from knowledge.ingest import import_path

    kb = write_kb(tmp_path / "kb")
    twin = PARCEL_KB["refunds-damaged"][1].replace("30 days", "thirty days")
    text = f"---\ntitle: Damaged parcel refunds\ntopic: deliveries\n---\n{twin}\n"
    (kb / "refunds-damaged-copy.md").write_text(text, encoding="utf-8")
    app = make_app(tmp_path / "home", embedder, sample=False)
    import_path(app.kb, kb)
    app.calibration_job.wait()
    domain = app.graph_deps().domain
    ids = {a.title: a.id for a in app.kb.list()}
    twins = domain.article_similarity(
        ids["Refunds for damaged parcels"], ids["Damaged parcel refunds"]
    )
    apart = domain.article_similarity(
        ids["Refunds for damaged parcels"], ids["Parcel locker PIN codes"]
    )
    assert twins >= 0.85 > apart

    msg = IncomingMessage(
        "console", "help", "t1", "t1", "my parcel arrived damaged, refund?", Member("t1")
    )
    reply = app.service.handle(msg)
    assert reply.route == "clarify", reply.reasons
    assert {o.label for o in reply.options} >= {
        "Refunds for damaged parcels",
        "Damaged parcel refunds",
    }
    app.engine.dispose()


def test_calibration_fits_a_query_adapter_for_this_help_center(tmp_path, embedder) -> None:
    """The KB's own phrasings fit a query map; searches use it, and only what it was fitted on."""
    import numpy as np

    from knowledge.ingest import import_path

    app = make_app(tmp_path / "home", embedder, sample=False)
    assert app.kb.retriever.adapter is None
    import_path(app.kb, write_kb(tmp_path / "kb"))
    app.calibration_job.wait()
    adapter = app.kb.retriever.adapter
    assert adapter is not None and adapter.shape == (embedder.dim, embedder.dim)
    assert not np.allclose(adapter, np.eye(embedder.dim), atol=1e-3)
    # a held-out fold's map differs from the full one: calibration probes are not fitted on
    held_out = app.domain_builder.adapter(app.domain_builder.build()[1], skip_fold=0)
    assert held_out is not None and not np.allclose(held_out, adapter)
    hits = app.kb.search("my parcel arrived damaged, can I get a refund?", k=3)
    assert hits[0].title == "Refunds for damaged parcels"
    app.engine.dispose()


def test_a_busy_database_is_retried_then_the_failure_is_shown_not_only_logged(
    tmp_path, embedder, monkeypatch
) -> None:
    """A write lock held by another process fails calibration for real; it is retried, and when
    every try fails `threshold show` says so, until a later calibration succeeds and clears it."""
    import logging
    import sqlite3

    import bot.self_calibration as self_calibration
    from admin_commands import run_command
    from knowledge.ingest import import_path
    from tests.admin.conftest import ROLE_CONFIG, STAFF

    app = make_app(tmp_path / "home", embedder, sample=False, **ROLE_CONFIG)
    app.kb.on_added.clear()  # calibrate only when the test starts the job
    import_path(app.kb, write_kb(tmp_path / "kb"))
    monkeypatch.setattr(self_calibration, "RETRY_DELAYS_S", (0.0,))  # one retry, no pause

    other = sqlite3.connect(app.engine.url.database, isolation_level=None, check_same_thread=False)
    other.execute("BEGIN IMMEDIATE")  # another writer holds the database for every attempt
    retries: list[str] = []

    class ReleaseOnGiveUp(logging.Handler):
        """The lock outlives both attempts; released once the job gives up, so it can record."""

        def emit(self, record: logging.LogRecord) -> None:
            if "retrying" in record.getMessage():
                retries.append(record.getMessage())
            if "product defaults stay in use" in record.getMessage():
                other.execute("ROLLBACK")

    handler = ReleaseOnGiveUp()
    self_calibration.log.addHandler(handler)
    try:
        app.calibration_job.start()
        app.calibration_job.wait()
    finally:
        self_calibration.log.removeHandler(handler)
        other.close()

    assert len(retries) == 1 and "locked" in retries[0]
    assert not app.settings.get("calibration")
    failure = app.settings.get("calibration_failure")
    assert "OperationalError" in failure["error"] and failure["at"]
    shown = run_command(app, STAFF, "threshold show").text
    assert "Self-calibration failed at" in shown and "OperationalError" in shown

    app.calibration_job.start()  # the database is free again
    app.calibration_job.wait()
    assert app.settings.get("calibration")["articles"] == 5
    assert app.settings.get("calibration_failure") == {}
    assert "Self-calibrated on 5 articles" in run_command(app, STAFF, "threshold show").text
    app.engine.dispose()


class _CountingEmbedder:
    """The real embedder, recording every text it is asked to embed."""

    def __init__(self, inner) -> None:
        self.inner = inner
        self.texts: list[str] = []

    def embed(self, texts, **kwargs):
        self.texts += list(texts)
        return self.inner.embed(texts, **kwargs)

    def __getattr__(self, name: str):
        return getattr(self.inner, name)


def test_a_restart_reuses_the_domain_vectors_instead_of_embedding_them_again(
    tmp_path, embedder
) -> None:
    """A cold `ask` used to embed every phrasing and the background set before answering."""
    import numpy as np

    from bot.app import Deskhand
    from bot.config import Config
    from bot.self_calibration import DomainBuilder
    from knowledge.ingest import import_path

    first = make_app(tmp_path / "home", embedder, sample=False)
    import_path(first.kb, write_kb(tmp_path / "kb"))
    first.calibration_job.wait()
    built = DomainBuilder(first)
    built.build()
    first.engine.dispose()

    counting = _CountingEmbedder(embedder)
    again = Deskhand(Config(home=str(tmp_path / "home")), embedder=counting)
    again.calibration_job.wait()
    counting.texts.clear()
    rebuilt = DomainBuilder(again)
    rebuilt.build()
    assert counting.texts == []
    assert np.array_equal(rebuilt.phrasing_vectors, built.phrasing_vectors)

    # a damaged cache file is ignored (one warning), embedded again and rewritten
    for path in (tmp_path / "home").glob("domain-vectors-*.npz"):
        path.write_bytes(b"not an npz")
    DomainBuilder(again).build()
    assert counting.texts  # embedded again
    counting.texts.clear()
    DomainBuilder(again).build()
    assert counting.texts == []  # and the rewritten file serves the next start
    again.engine.dispose()
