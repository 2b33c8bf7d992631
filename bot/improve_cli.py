"""`deskhand gaps`: the knowledge-gaps report on the command line."""

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


def register(sub: argparse._SubParsersAction) -> None:
    """Add `gaps` to the `deskhand` parser."""
    p = sub.add_parser("gaps", help="knowledge gaps: what members ask that the KB does not answer")
    p.add_argument("--days", type=int, default=30)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_gaps)
