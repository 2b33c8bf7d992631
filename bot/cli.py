"""The `deskhand` command line: demo, ask, knowledge, scope, eval, calibrate, bench, run."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

if TYPE_CHECKING:  # imported lazily at run time: `deskhand --help` loads no models
    from sqlalchemy.engine import Engine

    from bot.app import Deskhand
    from bot.audit import ImportAudit
    from bot.config import Config
    from knowledge.contracts import Hit
    from knowledge.store import KnowledgeBase

err = Console(stderr=True, markup=False)  # file names, errors and member text may hold [brackets]


@contextmanager
def progress_bar(label: str, enabled: bool = True) -> Iterator[Callable[[int, int], None]]:
    """A rich progress bar on stderr, exposed as a progress(done, total) callback."""
    if not enabled:
        yield lambda done, total: None
        return
    columns = (TextColumn(label), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with Progress(*columns, console=err, transient=True) as bar:
        task = bar.add_task(label, total=None)

        def update(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        yield update


def _app(read_path: bool = False) -> Deskhand:
    """The whole application (models, index, graph): for commands that answer or change things.

    `read_path`: search from the snapshot file while it is current (no LanceDB import); writes
    still go to LanceDB.
    """
    from bot.app import get_app

    config = _config()
    if config.llm:  # a missing key or provider package: one line, before anything is written
        from bot.llm.setup import build_chat_model

        build_chat_model(config)
    with err.status("Loading the knowledge base and models…"):
        return get_app(config, read_path=read_path)


def _warn_if_empty(app: Deskhand) -> None:
    """Say where the data is when it holds no articles: a relative DESKHAND_HOME may point elsewhere."""
    if app.kb.list():
        return
    home = app.config.home
    hint = (
        ""
        if Path(home).expanduser().is_absolute()
        else f" (DESKHAND_HOME={home!r} is relative to {Path.cwd()})"
    )
    err.print(
        f"warning: no articles in {app.config.data_location}{hint}; import some with "
        "`deskhand kb import PATH`, or set DESKHAND_HOME to the absolute path of your data",
        style="yellow",
    )


def _config() -> Config:
    """Settings only (validated): a mistake becomes a one-line ConfigError before anything loads."""
    from bot.config import load_config

    return load_config()


def _database(config: Config) -> Engine:
    """The existing database alone: listings need neither models nor the index, and write nothing."""
    from bot.db import make_engine

    config.require_data()
    return make_engine(config.db_url)


def _searchable_kb(config: Config) -> KnowledgeBase:
    """Articles, the snapshot-first index and the embedder: no graph, classifier or repair."""
    from knowledge.embeddings import get_embedder
    from knowledge.read_path import ReadPathIndex
    from knowledge.snapshot import SnapshotFile
    from knowledge.store import KnowledgeBase, article_versions

    engine = _database(config)
    embedder = get_embedder(config.embedder)
    index = ReadPathIndex(
        config.lance_path,
        embedder,
        SnapshotFile(config.snapshot_path),
        lambda: article_versions(engine),
    )
    return KnowledgeBase(engine, index, embedder)


def _search(config: Config, text: str, k: int) -> list[Hit]:
    """`kb search` from the snapshot file; a SQLite home is read with sqlite3 (no SQLAlchemy)."""
    from knowledge.embeddings import get_embedder
    from knowledge.read_path import ReadPathIndex, sqlite_article_versions
    from knowledge.search import HybridRetriever
    from knowledge.snapshot import SnapshotFile

    config.require_data()
    if config.sqlite_path is not None:
        versions = sqlite_article_versions(config.sqlite_path)
    else:
        from functools import partial

        from knowledge.store import article_versions

        versions = partial(article_versions, _database(config))
    embedder = get_embedder(config.embedder)
    index = ReadPathIndex(config.lance_path, embedder, SnapshotFile(config.snapshot_path), versions)
    return HybridRetriever(index, embedder).search(text, k=k)


def _print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, default=str, ensure_ascii=False) + "\n")


# ---- commands ----------------------------------------------------------------------------------
def cmd_demo(args: argparse.Namespace) -> int:
    """Interactive local channel with a simulated staff channel."""
    from bot.console import run_demo

    app = _app()
    with progress_bar("Loading sample knowledge") as progress:
        loaded = app.load_sample(progress=progress)
    if loaded["articles"] or loaded["issue_types"]:
        err.print(
            f"Loaded the sample: {loaded['articles']} articles, {loaded['issue_types']} issue types."
        )
    err.print(f"Data in {app.config.data_location} (DESKHAND_HOME).")
    lines = Path(args.script).read_text().splitlines() if args.script else None
    run_demo(app, lines)
    return 0


def cmd_ask(args: argparse.Namespace) -> int:
    """One message through the full graph."""
    from bot.contracts import IncomingMessage, Member

    app = _app(read_path=True)
    if args.sample:
        app.load_sample()
    _warn_if_empty(app)
    msg = IncomingMessage(
        platform="console",
        channel_id=args.channel,
        thread_id=args.thread or f"ask-{abs(hash(args.text)) % 10**8}",
        message_id="",
        text=args.text,
        member=Member(args.user, args.user),
    )
    reply = app.service.handle(msg)
    if args.json:
        _print_json(
            {
                "route": reply.route,
                "reply": reply.text,
                "citations": [{"title": c.title, "url": c.url} for c in reply.citations],
                "options": [{"label": o.label, "value": o.value} for o in reply.options],
                "issue_type": reply.issue_type,
                "confidence": reply.confidence,
                "reasons": reply.reasons,
                "escalation": reply.escalation,
                "ticket_id": reply.ticket_id,
                "latency_ms": reply.latency_ms,
            }
        )
    else:
        print(reply.text)
        for c in reply.citations:
            print(f"  source: {c.title} <{c.url}>" if c.url else f"  source: {c.title}")
        for i, o in enumerate(reply.options, 1):
            print(f"  [{i}] {o.label}")
        err.print(
            f"route={reply.route} confidence={reply.confidence:.2f} reasons={reply.reasons}",
            style="dim",
        )
    return 0


def _print_undo(audit_id: int | None) -> None:
    """Tell the operator how to take a change back from chat."""
    if audit_id is not None:
        err.print(f"Audited as #{audit_id}; undo with `/deskhand audit undo {audit_id}`.")


def _print_calibration(app: Deskhand, done: ImportAudit) -> None:
    """Re-calibrate thresholds on the new articles and say what was picked."""
    from bot.self_calibration import describe

    if done.added or done.updated:
        err.print(describe(app.recalibrate(actor="cli import")))


def cmd_kb(args: argparse.Namespace) -> int:
    """Knowledge base: import, list, search, reindex."""
    from knowledge.errors import KnowledgeError

    if args.kb_cmd in ("list", "search"):
        return _kb_read(args)
    app = _app()
    try:
        if args.kb_cmd == "import":
            import getpass

            from bot.audit import audited_import
            from knowledge.ingest import import_path, import_url

            actor = f"cli:{getpass.getuser()}"
            domains = list(app.settings.get("allowed_domains") or [])
            if args.path.startswith(("http://", "https://")):
                done = audited_import(
                    app.kb,
                    actor,
                    args.path,
                    lambda: import_url(
                        app.kb, args.path, allowed_domains=domains, force=args.force
                    ),
                )
                err.print(
                    f"Imported {args.path}: {len(done.added)} added, {len(done.updated)} updated."
                )
                _print_calibration(app, done)
                _print_undo(done.audit_id)
                return 0
            with progress_bar(f"Importing {args.path}") as progress:
                done = audited_import(
                    app.kb,
                    actor,
                    args.path,
                    lambda: import_path(
                        app.kb, Path(args.path), progress, domains, force=args.force
                    ),
                )
            report = done.result
            err.print(f"{report.summary()} (data in {app.config.data_location})")
            for error in report.errors:
                err.print(str(error), style="red")
            for finding in report.flagged:
                err.print(f"held: {finding}", style="yellow")
            for note in report.assumed:
                err.print(f"assumed: {note}", style="yellow")
            _print_calibration(app, done)
            _print_undo(done.audit_id)
            return 1 if report.errors or report.flagged else 0
        if args.kb_cmd in ("hygiene", "reindex"):
            _warn_if_empty(app)
        if args.kb_cmd == "hygiene":
            from knowledge.hygiene import (
                find_contradictions,
                find_near_duplicates,
                find_stale,
                find_unsafe,
            )

            domains = list(app.settings.get("allowed_domains") or [])
            report = {
                "unsafe": [vars(x) for x in find_unsafe(app.kb, domains)],
                "near_duplicates": [vars(x) for x in find_near_duplicates(app.kb)],
                "contradictions": [vars(x) for x in find_contradictions(app.kb)],
                "stale": [vars(x) for x in find_stale(app.kb, days=args.days)],
            }
            if args.json:
                _print_json(report)
            else:
                for kind, rows in report.items():
                    print(f"{kind.replace('_', ' ')}: {len(rows)}")
                    for row in rows:
                        print("  " + ", ".join(f"{k}={v}" for k, v in row.items()))
            return 0
        if args.kb_cmd == "reindex":
            with progress_bar("Reindexing") as progress:
                app.kb.reindex(progress=progress)
            err.print(f"Reindexed {len(app.kb.list())} articles.")
            return 0
    except KnowledgeError as exc:
        err.print(str(exc), style="red")
        return 2
    return 2


def _kb_read(args: argparse.Namespace) -> int:
    """`kb list` and `kb search`: the index-free (list) or graph-free (search) fast paths."""
    config = _config()
    if args.kb_cmd == "search":
        for hit in _search(config, args.text, args.k):
            print(f"{hit.score:.3f}  #{hit.article_id} {hit.title}")
        return 0
    from knowledge.store import list_articles

    rows = [
        {"id": a.id, "title": a.title, "topic": a.topic, "version": a.version, "url": a.url}
        for a in list_articles(_database(config), topic=args.topic)
    ]
    if args.json:
        _print_json(rows)
    else:
        for row in rows:
            print(f"#{row['id']:<4} v{row['version']:<3} [{row['topic']}] {row['title']}")
        err.print(f"{len(rows)} articles in {config.data_location}")
    return 0


def _scope_list(args: argparse.Namespace) -> int:
    """`scope list` straight from the database: no models, no index."""
    from bot.scope import ScopeStore, describe

    rows = [describe(r) for r in ScopeStore(_database(_config())).all()]
    if args.json:
        _print_json(rows)
        return 0
    for row in rows:
        flag = "in " if row["in_scope"] else "OUT"
        print(
            f"{flag} {row['name']:<22} team={row['team'] or '-':<14} {len(row['examples'])} examples"
        )
    return 0


def cmd_scope(args: argparse.Namespace) -> int:
    """Scope: import a scope file (retrains the classifier), list it."""
    from bot.scope import ScopeError

    if args.scope_cmd == "list":
        return _scope_list(args)
    app = _app()
    try:
        if args.scope_cmd == "import":
            result = app.scope.import_file(Path(args.file), actor="cli")
            with err.status("Retraining the classifier…"):
                fingerprint = app.retrain()
            err.print(
                f"Scope loaded: {result.in_scope} in scope, {result.out_of_scope} out of scope "
                f"(classifier {fingerprint})."
            )
        elif args.scope_cmd == "retrain":
            err.print(f"Classifier {app.retrain()} trained.")
    except ScopeError as exc:
        err.print(str(exc), style="red")
        return 2
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    """Evaluation suite on labelled data; writes a Markdown report with plots."""
    from bot.evaluation.runner import run_eval

    with progress_bar(f"eval {args.eval_cmd}", enabled=not args.quiet) as progress:
        result = run_eval(args, progress)
    if args.json:
        _print_json(result)
    else:
        from rich.pretty import pprint

        pprint({k: v for k, v in result.items() if not isinstance(v, list)}, console=Console())
    return 0


def cmd_calibrate(args: argparse.Namespace) -> int:
    """Pick answer/clarify thresholds for a target wrong-answer rate."""
    from bot.evaluation.runner import run_calibrate

    with progress_bar("calibrating") as progress:
        result = run_calibrate(args, progress)
    if args.json:
        _print_json(result)
    else:
        from rich.pretty import pprint

        pprint(result, console=Console())
    return 0


def cmd_bench(args: argparse.Namespace) -> int:
    """Latency, throughput, import rate and memory, without an LLM."""
    from bot.evaluation.bench import run_bench

    with progress_bar("benchmark", enabled=not args.json) as progress:
        if getattr(args, "soak", False):
            from bot.evaluation.storage import run_soak

            result = run_soak(messages=args.soak_messages, progress=progress)
        else:
            result = run_bench(messages=args.messages, synthetic=args.synthetic, progress=progress)
    if args.json:
        _print_json(result)
    else:
        from rich.pretty import pprint

        pprint(result, console=Console())
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    """Connect to Slack or Discord."""
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    if args.platform == "slack":  # settings and token first: nothing loads or is written before
        from bot.slack.preflight import check_slack

        check_slack(_config(), http=args.http)
    app = _app()
    _warn_if_empty(app)
    if args.platform == "slack":
        from bot.slack import main_run

        main_run(app, http=args.http, port=args.port)
    else:
        from bot.discord import main_run as discord_run

        discord_run(app)
    _exit_after_stop()
    return 0


def _exit_after_stop() -> None:
    """Leave without native teardown once a bot has stopped.

    Everything owed is in the inbox/outbox by now; a worker thread still inside ONNX Runtime or
    LanceDB past the grace period would otherwise abort the interpreter's shutdown
    ("terminate called without an active exception") and turn a clean stop into exit code -6.
    """
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


def build_parser() -> argparse.ArgumentParser:
    """All subcommands and their flags."""
    parser = argparse.ArgumentParser(prog="deskhand", description=__doc__)
    sub = parser.add_subparsers(dest="cmd", required=True)

    p = sub.add_parser("demo", help="interactive local demo")
    p.add_argument("--script", help="read demo lines from a file instead of the keyboard")
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser("ask", help="one message through the full graph")
    p.add_argument("text")
    p.add_argument("--json", action="store_true")
    p.add_argument("--user", default="cli-user")
    p.add_argument("--channel", default="cli")
    p.add_argument("--thread", default="")
    p.add_argument("--sample", action="store_true", help="load the sample first if the KB is empty")
    p.set_defaults(func=cmd_ask)

    p = sub.add_parser("kb", help="knowledge base")
    kb = p.add_subparsers(dest="kb_cmd", required=True)
    q = kb.add_parser("import", help="import Markdown/HTML files, a folder, FAQ JSONL or a URL")
    q.add_argument("path")
    q.add_argument("--force", action="store_true", help="import articles the safety lint flags")
    q = kb.add_parser("list")
    q.add_argument("--topic")
    q.add_argument("--json", action="store_true")
    q = kb.add_parser("search")
    q.add_argument("text")
    q.add_argument("-k", type=int, default=5)
    kb.add_parser("reindex", help="rebuild the LanceDB index from SQL")
    q = kb.add_parser("hygiene", help="near-duplicates, contradictions and stale articles")
    q.add_argument("--days", type=int, default=180, help="stale after this many days")
    q.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_kb)

    p = sub.add_parser("scope", help="issue types and out-of-scope topics")
    sc = p.add_subparsers(dest="scope_cmd", required=True)
    q = sc.add_parser("import")
    q.add_argument("file")
    q = sc.add_parser("list")
    q.add_argument("--json", action="store_true")
    sc.add_parser("retrain")
    p.set_defaults(func=cmd_scope)

    from bot.evaluation.runner import add_eval_arguments

    p = sub.add_parser("eval", help="evaluation suite (intents, retrieval, decisions)")
    add_eval_arguments(p)
    p.set_defaults(func=cmd_eval)

    p = sub.add_parser("calibrate", help="pick thresholds for a target wrong-answer rate")
    p.add_argument("--faq", help="FAQ JSONL (default: shared CovidFAQ)")
    p.add_argument("--queries", help="queries JSONL with faq_ids")
    p.add_argument("--oos", help="out-of-scope JSONL (text per line)")
    p.add_argument(
        "--history", action="store_true", help="use real history: feedback + staff resolutions"
    )
    p.add_argument("--target-wrong", type=float, default=0.02)
    p.add_argument("--apply", action="store_true", help="store the picked thresholds")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_calibrate)

    p = sub.add_parser("bench", help="latency / throughput / memory benchmark")
    p.add_argument("--json", action="store_true")
    p.add_argument("--messages", type=int, default=300)
    p.add_argument("--synthetic", type=int, default=0, help="also run on an N-article synthetic KB")
    p.add_argument("--soak", action="store_true", help="5,000 messages over 500 threads instead")
    p.add_argument("--soak-messages", type=int, default=5000)
    p.set_defaults(func=cmd_bench)

    from bot.monitoring.cli import register as register_monitoring

    register_monitoring(sub)
    from bot.improve_cli import register as register_improve

    register_improve(sub)

    p = sub.add_parser("run", help="connect to a chat platform")
    p.add_argument("platform", choices=["slack", "discord"])
    p.add_argument("--http", action="store_true", help="Slack: serve the Events API over HTTP")
    p.add_argument("--port", type=int, default=3000)
    p.set_defaults(func=cmd_run)

    from bot.outbox_cli import add_commands

    add_commands(sub)

    from bot.privacy_cli import add_commands as add_privacy_commands

    add_privacy_commands(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `deskhand` console script."""
    from knowledge.errors import SetupError

    logging.basicConfig(level=logging.WARNING)
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except SetupError as exc:  # a setup or usage mistake: one line that says what to do
        sys.stderr.write(f"deskhand: {' '.join(str(exc).split())}\n")
        return 2


if __name__ == "__main__":
    sys.exit(main())
