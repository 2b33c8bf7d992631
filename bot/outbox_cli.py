"""`deskhand outbox` and `deskhand repair`: see and fix undelivered side effects from a shell."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any


def add_commands(sub: Any) -> None:
    """Register `outbox` and `repair` on the CLI's subparsers."""
    p = sub.add_parser("outbox", help="waiting and dead outbox items; retry ID / drop ID")
    p.add_argument("action", nargs="?", choices=["list", "retry", "drop"], default="list")
    p.add_argument("item_id", nargs="?", type=int)
    p.add_argument("--dead", action="store_true", help="only dead items")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_outbox)
    p = sub.add_parser("repair", help="re-queue half-done escalations (adapters do this at start)")
    p.add_argument("--platform", choices=["slack", "discord"], action="append")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_repair)


def _app() -> Any:
    from bot.cli import _app as load

    return load()


def cmd_outbox(args: argparse.Namespace) -> int:
    """List, retry or drop outbox items; retry and drop are audited like `/deskhand outbox`."""
    from admin_commands import Caller, run_command
    from bot.outbox import describe

    app = _app()
    if args.action == "list":
        items = app.outbox.items(status="dead" if args.dead else None)
        if args.json:
            sys.stdout.write(json.dumps({"items": [describe(i) for i in items]}) + "\n")
            return 0
        if not items:
            print("Outbox: nothing is waiting and nothing is dead.")
        for item in items:
            view = describe(item)
            ticket = f" ticket #{view['ticket_id']}" if view["ticket_id"] else ""
            print(f"#{view['id']} {view['platform']} {view['kind']}{ticket} {view['status']}"
                  f" tries={view['attempts']} {view['last_error']}")  # fmt: skip
        return 0
    if args.item_id is None:
        print(f"deskhand outbox {args.action}: give the item ID (see `deskhand outbox`).")
        return 2
    result = run_command(app, Caller("console", "cli"), f"outbox {args.action} {args.item_id}")
    if args.json:
        sys.stdout.write(json.dumps({"ok": result.ok, "message": result.text}) + "\n")
    else:
        print(result.text)
    return 0 if result.ok else 1


def cmd_repair(args: argparse.Namespace) -> int:
    """Re-queue every half-done escalation; a running adapter's retry loop then finishes it."""
    from bot.escalation import repair

    app = _app()
    reports = [repair(app, platform) for platform in args.platform or ["slack", "discord"]]
    if args.json:
        sys.stdout.write(json.dumps({"repair": reports}) + "\n")
    else:
        for r in reports:
            print(f"{r['platform']}: {len(r['escalations_requeued'])} escalation(s) re-queued"
                  f" {r['escalations_requeued'] or ''}; {len(r['relays_waiting'])} relay(s) waiting")  # fmt: skip
    return 0
