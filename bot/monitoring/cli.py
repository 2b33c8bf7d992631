"""`deskhand stats|simulate|alerts|digest`: the monitoring commands of the command line."""

from __future__ import annotations

import argparse
import sys
from typing import Any


def _fail(message: str) -> int:
    """One clear line on stderr and exit code 2."""
    sys.stderr.write(message + "\n")
    return 2


def cmd_stats(args: argparse.Namespace) -> int:
    """The scorecard, optionally by segment and as a day/week series."""
    from bot.cli import _app, _print_json
    from bot.monitoring.periods import parse_period
    from bot.monitoring.scorecard import compute_report
    from knowledge.models import utcnow

    try:
        span = parse_period(args.since)
        app = _app()
        until = utcnow()
        data = compute_report(
            app.engine,
            until - span,
            until,
            by=args.by,
            series=args.series,
            prices=app.settings.get("llm_prices"),
        )
    except ValueError as exc:
        return _fail(str(exc).replace("`", ""))
    if args.json:
        _print_json(data)
        return 0
    card = data["scorecard"]
    print(f"Deskhand scorecard {data['since']} → {data['until']}")
    for name, value in card.items():
        print(f"  {name:<28} {'—' if value is None else value}")
    for name, entry in (data.get("segments") or {}).items():
        seg = entry["scorecard"]
        print(
            f"  [{args.by}={name}] conversations={seg['conversations']} "
            f"resolution={seg['resolution_rate']} escalation={seg['escalation_rate']}"
        )
    return 0


def register(sub: Any) -> None:
    """Add the monitoring subcommands to the `deskhand` parser."""
    p = sub.add_parser("stats", help="scorecard, segments and trends from recorded data")
    p.add_argument("--json", action="store_true")
    p.add_argument("--since", default="7d", help="period, e.g. 24h, 30d, 8w (default 7d)")
    p.add_argument(
        "--by",
        help="segment: channel, platform, issue-type, team, language, tier, "
        "escalation-reason, bot-version",
    )
    p.add_argument("--series", choices=["day", "week"], help="also a day or week series")
    p.set_defaults(func=cmd_stats)
