"""`deskhand stats|simulate|alerts|digest`: the monitoring commands of the command line."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any


def _fail(message: str) -> int:
    """One clear line on stderr and exit code 2."""
    sys.stderr.write(message + "\n")
    return 2


def _print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, default=str, ensure_ascii=False) + "\n")


def _store() -> Any:
    """The home's settings store: the database only (no index, no model) keeps these commands fast."""
    from bot.config import load_config
    from bot.db import make_engine
    from bot.runtime_settings import SettingsStore

    return SettingsStore(make_engine(load_config().db_url))


def cmd_stats(args: argparse.Namespace) -> int:
    """The scorecard, optionally by segment and as a day/week series."""
    from bot.monitoring.periods import parse_period
    from bot.monitoring.scorecard import compute_report
    from knowledge.models import utcnow

    try:
        span = parse_period(args.since)
        store = _store()
        until = utcnow()
        data = compute_report(
            store.engine,
            until - span,
            until,
            by=args.by,
            series=args.series,
            prices=store.get("llm_prices"),
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


def cmd_simulate(args: argparse.Namespace) -> int:
    """Write weeks of synthetic traffic (with an injected drift) into this home's database."""
    from bot.monitoring.simulate import Drift, SimConfig, simulate

    if not 1 <= args.days <= 365 or args.per_day <= 0:
        return _fail("--days is 1 to 365 and --per-day must be positive.")
    drift = None if args.no_drift else Drift(topic=args.drift_topic, day=args.drift_day)
    if drift is not None and not 0 <= drift.day < args.days:
        return _fail(f"--drift-day must fall inside the {args.days} simulated days.")
    store = _store()
    result = simulate(
        store.engine, SimConfig(days=args.days, per_day=args.per_day, seed=args.seed, drift=drift)
    )
    data = result.to_dict()
    if args.check:
        from bot.monitoring.alerts import backtest

        data["backtest"] = backtest(store.engine, result, store.get("alerts"))
    if args.json:
        _print_json(data)
    else:
        print(
            f"Simulated {data['conversations']} conversations ({data['decisions']} decisions, "
            f"{data['tickets']} tickets) from {data['start']} to {data['end']}; drift on "
            f"{data['drift_topic'] or '—'} at {data['drift_at'] or '—'}."
        )
    return 0


def cmd_alerts(args: argparse.Namespace) -> int:
    """`deskhand alerts check --json`: the same detectors as the bot, from the command line."""
    from types import SimpleNamespace

    from bot.monitoring.alerts import run_checks

    store = _store()
    fired = run_checks(SimpleNamespace(engine=store.engine, settings=store), record=args.record)
    rows = [
        {
            "key": a.key,
            "kind": a.kind,
            "subject": a.subject,
            "severity": a.severity,
            "title": a.title,
            "text": a.text,
            "evidence": a.evidence,
            "oncall": a.oncall,
        }
        for a in fired
    ]
    if args.json:
        _print_json({"alerts": rows, "recorded": bool(args.record)})
    else:
        for row in rows:
            print(f"[{row['severity']}] {row['title']}: {row['text']}")
        sys.stderr.write(f"{len(rows)} alert(s)\n")
    return 0


def cmd_digest(args: argparse.Namespace) -> int:
    """`deskhand digest [--json]`: the weekly review of the last 7 days."""
    from bot.monitoring.digest import weekly_digest

    digest = weekly_digest(_store().engine)
    if args.json:
        _print_json(digest.to_dict())
        return 0
    print(digest.title)
    print(digest.text())
    for row in digest.table:
        print("  " + "  ".join(f"{c:<26}" if i == 0 else f"{c:>10}" for i, c in enumerate(row)))
    for name, text in digest.fields():
        print(f"{name}:\n  " + text.replace("\n", "\n  "))
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

    p = sub.add_parser("simulate", help="write weeks of synthetic traffic with an injected drift")
    p.add_argument("--days", type=int, default=28)
    p.add_argument("--per-day", type=float, default=120.0, help="weekday conversations per day")
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--drift-day", type=float, default=21.0, help="day of the bad KB edit")
    p.add_argument("--drift-topic", default="", help="issue type that drifts (default: busiest)")
    p.add_argument("--no-drift", action="store_true", help="a quiet run with no drift")
    p.add_argument("--check", action="store_true", help="also replay the alert detectors hourly")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_simulate)

    p = sub.add_parser("digest", help="the weekly review of the last 7 days")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_digest)

    p = sub.add_parser("alerts", help="run the alert detectors")
    al = p.add_subparsers(dest="alerts_cmd", required=True)
    q = al.add_parser("check", help="run every detector now")
    q.add_argument("--json", action="store_true")
    q.add_argument("--record", action="store_true", help="record them so the bot posts them")
    p.set_defaults(func=cmd_alerts)
