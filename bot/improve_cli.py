"""`deskhand gaps` and `deskhand shadow`: improvement-loop reports on the command line."""

from __future__ import annotations

import argparse
import json
import sys


def cmd_gaps(args: argparse.Namespace) -> int:
    """Clusters of unanswered questions, unused articles, uncovered issue types, worst articles."""
    from bot.cli import _config, _searchable_kb
    from bot.improve.gaps import gaps_report

    if not 1 <= args.days <= 365:
        sys.stderr.write("--days is 1 to 365.\n")
        return 2
    if args.draft is not None:
        return _draft(args)
    report = gaps_report(_searchable_kb(_config()), days=args.days)
    data = report.to_dict()
    if args.json:
        sys.stdout.write(json.dumps(data, default=str, ensure_ascii=False) + "\n")
        return 0
    print(f"Knowledge gaps {data['since']} → {data['until']}: {report.questions} question(s)")
    for c in report.clusters:
        near = c.nearest_article or {}
        print(f"  {c.number}. {c.count}× “{c.examples[0]}” — nearest #{near.get('article_id')}"
              f" {near.get('title', '')} ({near.get('score', 0)})")  # fmt: skip
    unused = ", ".join(f"#{a['article_id']}" for a in report.unused_articles) or "none"
    print(f"  never retrieved: {unused}")
    print(f"  issue types with no article: {', '.join(report.uncovered_issue_types) or 'none'}")
    for row in report.worst_articles:
        print(f"  worst: #{row['article_id']} {row['title']} {row['not_helpful']}/{row['answers']}")
    return 0


def _draft(args: argparse.Namespace) -> int:
    """`deskhand gaps --draft N`: the LLM's article (in LLM mode) or the extractive one, queued."""
    from dataclasses import asdict

    from bot.cli import _app
    from bot.improve.gaps import GapsError, draft_gap

    app = _app()
    try:
        draft = draft_gap(app.kb, args.draft, args.days, "cli", app.llm, app.embedder)
    except GapsError as exc:
        sys.stderr.write(f"{exc}\n")
        return 1
    if args.json:
        sys.stdout.write(json.dumps(asdict(draft), ensure_ascii=False) + "\n")
        return 0
    if draft.note:
        print(draft.note)
    print(f"Candidate #{draft.candidate_id} ({draft.model}): {draft.title}\n\n{draft.body}")
    print(f"\nNot published yet: review it in chat with /deskhand kb approve {draft.candidate_id}")
    return 0


def cmd_shadow(args: argparse.Namespace) -> int:
    """Shadow drafts against what staff did, per issue type."""
    from bot.cli import _config, _searchable_kb
    from bot.improve.shadow import shadow_report
    from bot.runtime_settings import SettingsStore

    if not 1 <= args.days <= 365:
        sys.stderr.write("--days is 1 to 365.\n")
        return 2
    kb = _searchable_kb(_config())
    answer = float(SettingsStore(kb.engine).thresholds()["answer"])
    report = shadow_report(kb.engine, kb.search, answer, days=args.days)
    if args.json:
        sys.stdout.write(json.dumps(report.to_dict(), ensure_ascii=False) + "\n")
        return 0
    print(
        f"Shadow agreement, last {args.days} days: {report.overall.agreed}/{report.overall.pairs}"
    )
    for a in [*report.by_issue_type, report.overall]:
        print(f"  {a.issue_type}: {a.rate:.0%} of {a.pairs} ({a.low:.0%}–{a.high:.0%})"
              f"{'  ready' if a.ready else ''}")  # fmt: skip
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    """Add `gaps` to the `deskhand` parser."""
    p = sub.add_parser("gaps", help="knowledge gaps: what members ask that the KB does not answer")
    p.add_argument("--days", type=int, default=30)
    p.add_argument("--json", action="store_true")
    p.add_argument("--draft", type=int, metavar="N", help="draft an article from gap N's tickets")
    p.set_defaults(func=cmd_gaps)
    p = sub.add_parser("shadow", help="shadow mode: bot drafts against what staff did")
    p.add_argument("--days", type=int, default=30)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_shadow)
