"""`gaps`: clusters of unanswered / Not-helpful questions, unused articles, uncovered issue types,
worst articles, and `gaps draft N` (an extractive KB candidate from the staff answers)."""

from __future__ import annotations

import json
from datetime import timedelta

from sqlalchemy import update
from sqlmodel import Session, select

from admin_commands import run_command
from bot.improve.gaps import cluster_vectors, gaps_report
from bot.models import IssueType
from knowledge.models import Article, KbCandidate, utcnow
from tests.admin.conftest import STAFF, ask
from tests.improve.conftest import CRYPTO, crypto_gap, not_helpful


def test_gaps_cluster_the_same_question_and_draft_an_article_from_staff_answers(
    app, monkeypatch, capsys
) -> None:
    crypto = crypto_gap(app)
    other = ask(app, "the app is in english, can I switch it to french", user="UFR")
    report = gaps_report(app.kb, days=1)
    ids = {r.conversation_id for r in crypto}
    cluster = next(c for c in report.clusters if ids <= set(c.conversation_ids))
    assert cluster.count == 3 and cluster.not_helpful == 3 and len(cluster.ticket_ids) == 3
    assert other.conversation_id not in cluster.conversation_ids
    assert set(cluster.examples) == set(CRYPTO)
    assert cluster.nearest_article and cluster.nearest_article["score"] > 0
    payment = app.kb.get(crypto[0].citations[0].article_id)
    assert cluster.nearest_article["article_id"] == payment.id

    shown = run_command(app, STAFF, "gaps --days 1")
    assert shown.ok and shown.table is not None
    row = next(r for r in shown.table[1:] if r[0] == str(cluster.number))
    assert row[1] == "3 (3 not helpful)" and f"#{payment.id}" in row[3]

    before = len(app.kb.list())
    drafted = run_command(app, STAFF, f"gaps draft {cluster.number} --days 1")
    assert drafted.ok, drafted.text
    with Session(app.engine) as session:
        cand = session.exec(select(KbCandidate).order_by(KbCandidate.id.desc())).first()
    assert cand.status == "pending" and len(app.kb.list()) == before  # drafted, not published
    assert "We don't accept bitcoin or any other cryptocurrency." in cand.answer
    assert "bank transfer on annual plans" in cand.answer
    assert "Hi there" not in cand.answer and "Thanks for asking" not in cand.answer
    assert all(f"#{t}" in cand.answer for t in cluster.ticket_ids)  # cites its tickets
    assert cand.question.rstrip("?") in {q.rstrip("?") for q in CRYPTO} or cand.question
    assert f"kb approve {cand.id}" in drafted.text
    assert cluster.draft == f"gaps draft {cluster.number}"  # the one command, in --json too

    from bot.cli import main

    monkeypatch.setenv("DESKHAND_HOME", app.config.home)
    assert main(["gaps", "--days", "1", "--draft", str(cluster.number), "--json"]) == 0
    cli = json.loads(capsys.readouterr().out)
    assert cli["model"] == "extractive" and cli["candidate_id"] == cand.id + 1
    assert "We don't accept bitcoin" in cli["body"] and cli["ticket_ids"] == cluster.ticket_ids


def test_draft_without_staff_answers_or_unknown_gap_explains_and_creates_nothing(app) -> None:
    reply = ask(app, "can I pay my invoice with bitcoin?", user="UNOSTAFF")
    not_helpful(app, reply, "UNOSTAFF")
    report = gaps_report(app.kb, days=1)
    assert report.clusters
    result = run_command(app, STAFF, "gaps draft 1 --days 1")
    assert not result.ok and "no staff answers yet" in result.text
    missing = run_command(app, STAFF, "gaps draft 99 --days 1")
    assert not missing.ok and "no gap 99" in missing.text
    assert app.kb.list_candidates(None) == []
    assert not run_command(app, STAFF, "gaps draft").ok  # usage


def test_unused_articles_and_issue_types_without_an_article(app) -> None:
    with Session(app.engine) as session:
        session.exec(update(Article).values(created_at=utcnow() - timedelta(days=60)))
        session.add(IssueType(name="dark_mode", topics="appearance", in_scope=True))
        session.commit()
    reply = ask(app, "How do I reset my password?", user="UUSED")
    report = gaps_report(app.kb, days=30)
    unused = {a["article_id"] for a in report.unused_articles}
    assert reply.citations[0].article_id not in unused
    assert unused and len(unused) < len(app.kb.list())
    assert "dark_mode" in report.uncovered_issue_types
    assert "password_reset" not in report.uncovered_issue_types


def test_leader_clustering_groups_by_threshold() -> None:
    import numpy as np

    a, b = np.array([1.0, 0.0]), np.array([0.0, 1.0])
    near_a = np.array([0.9, 0.1]) / np.linalg.norm([0.9, 0.1])
    assert cluster_vectors(np.stack([a, b, near_a]), 0.8) == [[0, 2], [1]]
    assert cluster_vectors(np.stack([near_a, b, a]), 0.8) == [[0, 2], [1]]  # order-free
    assert cluster_vectors(np.stack([a, b, near_a]), 0.999) == [[0], [1], [2]]
    assert cluster_vectors(np.stack([a]), 0.5) == [[0]]


def test_gaps_on_simulated_traffic_names_the_bad_edit_and_the_cli_prints_json(
    app, monkeypatch, capsys
) -> None:
    from bot.cli import main
    from bot.monitoring.simulate import Drift, SimConfig, simulate

    result = simulate(app.engine, SimConfig(days=21, per_day=40, seed=11, drift=Drift(day=14)))
    report = gaps_report(app.kb, days=22)
    assert report.worst_articles[0]["article_id"] == result.drift_article_id
    assert report.worst_articles[0]["rate"] > 2 * 0.06  # twice the simulated base rate
    assert sum(c.count for c in report.clusters) <= report.questions
    assert report.clusters[0].count >= report.clusters[-1].count

    monkeypatch.setenv("DESKHAND_HOME", app.config.home)
    assert main(["gaps", "--days", "22", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["questions"] == report.questions
    assert data["worst_articles"][0]["article_id"] == result.drift_article_id
    assert [c["count"] for c in data["clusters"]] == [c.count for c in report.clusters]
