"""Glue between the CLI and the evaluation suite: arguments, runs, reports."""

from __future__ import annotations

import argparse
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from knowledge.errors import SetupError

DATASETS = Path(__file__).resolve().parents[2].parent / "shared" / "datasets"


class DatasetMissingError(SetupError):
    """An evaluation dataset is not where it was looked for; says where datasets come from."""


def _default(path: str | None, *parts: str) -> Path:
    """An explicit path, or the shared dataset file; either must exist (one-line error otherwise)."""
    chosen = Path(path) if path else DATASETS.joinpath(*parts)
    if not chosen.is_file():
        where = "" if path else " (the default, from ../shared/datasets beside the repo)"
        raise DatasetMissingError(
            f"dataset {chosen}{where} not found: fetch CLINC150 / CovidFAQ as the README's "
            "'Datasets' section says, or pass your own file (--train/--test, --faq/--queries, --oos)"
        )
    return chosen


def add_eval_arguments(parser: argparse.ArgumentParser) -> None:
    """`deskhand eval intents|retrieval|decisions|learning-curve` and their flags."""
    sub = parser.add_subparsers(dest="eval_cmd", required=True)
    for name in ("intents", "retrieval", "decisions", "learning-curve"):
        p = sub.add_parser(name)
        p.add_argument("--json", action="store_true")
        p.add_argument("--quiet", action="store_true")
        p.add_argument("--report-dir", default="reports")
        if name in ("intents", "learning-curve"):
            p.add_argument("--train", help="train JSONL {text, intent} (default: CLINC150 train)")
            p.add_argument("--test", help="test JSONL (default: CLINC150 val)")
            p.add_argument("--threshold", type=float, default=None)
            p.add_argument("--cache", default=None, help="cache embeddings in this .npz file")
        else:
            p.add_argument("--limit", type=int, default=None, help="only the first N queries")
            p.add_argument("--faq", help="FAQ JSONL {id, question, answer} (default: CovidFAQ)")
            p.add_argument("--queries", help="queries JSONL {text, faq_ids} (default: CovidFAQ)")
        if name == "decisions":
            p.add_argument(
                "--oos", help="out-of-scope JSONL, a text per line (default: CLINC150 val oos)"
            )
            p.add_argument(
                "--split",
                choices=["all", "dev", "test"],
                default="test",
                help="score on the held-out half (test) by default; thresholds are tuned on dev",
            )
            p.add_argument(
                "--other-every",
                type=int,
                default=10,
                help="also count every Nth other-intent line of --oos as off-topic (0: oos only)",
            )
            p.add_argument(
                "--dataset",
                choices=["covidfaq", "clinc-kb"],
                default="covidfaq",
                help="clinc-kb: a 90-article help center built from CLINC150 at run time "
                "(bot/evaluation/clinc_kb.py); --faq/--queries/--oos override either",
            )
            p.add_argument("--smalltalk", help="small-talk JSONL {text, kind} (default: bundled)")
            p.add_argument(
                "--followups", help="dev follow-up JSONL (default: bundled CovidFAQ pairs)"
            )
            p.add_argument(
                "--heldout-followups",
                help="held-out follow-up JSONL on the bundled sample (default: bundled pairs)",
            )
    from bot.improve.history_args import add_history_arguments

    add_history_arguments(sub.add_parser("history", help="replay labelled cases from real work"))


def run_eval(args: argparse.Namespace, progress: Callable[[int, int], None]) -> dict[str, Any]:
    """Dispatch one eval subcommand and write its report."""
    if args.eval_cmd == "history":
        from bot.improve.history import run_history

        return run_history(args)
    out_dir = Path(args.report_dir)
    if args.eval_cmd == "intents":
        return eval_intents(args, progress, out_dir)
    if args.eval_cmd == "learning-curve":
        return eval_learning_curve(args, progress, out_dir)
    if args.eval_cmd == "retrieval":
        return eval_retrieval(args, out_dir)
    return eval_decisions(args, progress, out_dir)


def eval_intents(args: argparse.Namespace, progress: Callable, out_dir: Path) -> dict[str, Any]:
    """CLINC150-style intent classification with out-of-scope detection."""
    from bot.evaluation import report  # matplotlib: only when a report is written
    from bot.evaluation.intents import evaluate_intents

    result = evaluate_intents(
        _default(args.train, "clinc150", "train.jsonl"),
        _default(args.test, "clinc150", "val.jsonl"),
        threshold=args.threshold,
        cache_path=args.cache,
    )
    images: dict[str, Path | None] = {}
    out_dir.mkdir(parents=True, exist_ok=True)
    sweep = result.get("sweep") or []
    if sweep:
        xs = [r["threshold"] for r in sweep]
        images["In-scope accuracy and out-of-scope recall by threshold"] = report.curve_png(
            xs,
            {
                "in-scope accuracy": [r["in_scope_accuracy"] for r in sweep],
                "oos recall": [r["oos_recall"] for r in sweep],
            },
            out_dir / "intents_sweep.png",
            "CLINC150 val",
            "out-of-scope threshold",
        )
    worst = result.get("worst_intents") or []
    if worst:
        images["Worst intents (F1)"] = report.bar_png(
            [w["intent"] for w in worst],
            [w["f1"] for w in worst],
            out_dir / "intents_worst.png",
            "Lowest F1 intents",
        )
    if result.get("latencies_ms"):
        images["Latency"] = report.histogram_png(
            result["latencies_ms"], out_dir / "intents_latency.png", "classify latency"
        )
    result["report"] = str(report.write_report(out_dir, "intents", result, images))
    result.pop("latencies_ms", None)
    return result


def eval_learning_curve(
    args: argparse.Namespace, progress: Callable, out_dir: Path
) -> dict[str, Any]:
    """Accuracy with 5, 10, 20, 50 example phrasings per issue type."""
    from bot.evaluation import report  # matplotlib: only when a report is written
    from bot.evaluation.intents import learning_curve

    rows = learning_curve(
        _default(args.train, "clinc150", "train.jsonl"),
        _default(args.test, "clinc150", "val.jsonl"),
    )
    out_dir.mkdir(parents=True, exist_ok=True)
    xs = [r["shots"] for r in rows]
    series = {k: [r[k] for r in rows] for k in ("in_scope_accuracy", "oos_recall") if k in rows[0]}
    image = report.curve_png(
        xs,
        series,
        out_dir / "learning_curve.png",
        "Learning curve (CLINC150 val)",
        "examples per issue type",
    )
    result = {"curve": rows}
    result["report"] = str(
        report.write_report(out_dir, "learning_curve", {"curve": rows}, {"Learning curve": image})
    )
    return result


def eval_retrieval(args: argparse.Namespace, out_dir: Path) -> dict[str, Any]:
    """FAQ retrieval: MRR, hit@1, hit@5 over a fresh knowledge base."""
    import tempfile

    from bot.app import Deskhand
    from bot.config import Config
    from bot.evaluation import report  # matplotlib: only when a report is written
    from bot.evaluation.ceiling import retrieval_ceiling
    from knowledge.evaluation import evaluate_faq, load_queries

    queries = _default(args.queries, "covidfaq", "queries.jsonl")
    with tempfile.TemporaryDirectory(prefix="deskhand-eval-") as home:
        app = Deskhand(Config(home=home))
        rep = evaluate_faq(
            app.kb,
            _default(args.faq, "covidfaq", "faq.jsonl"),
            queries,
            limit=args.limit,
            ready=app.calibration_job.wait,
        )
    data = rep.as_dict()
    result = {
        "n": data["queries"],
        "mrr": data["mrr"],
        "hit_at_1": data["hit_at"].get("1"),
        "hit_at_5": data["hit_at"].get("5"),
        "p50_ms": data["latency_ms"].get("p50"),
        "p95_ms": data["latency_ms"].get("p95"),
        "score_correct": data["score_correct"],
        "score_wrong": data["score_wrong"],
        # what a perfect ranker could score, given identical questions labelled differently
        "label_ceiling": retrieval_ceiling(
            [(t, frozenset(g)) for t, g in load_queries(queries, args.limit)]
        ),
    }
    out_dir.mkdir(parents=True, exist_ok=True)
    ceiling = result["label_ceiling"] or {}
    bars = {f"hit@{k}": v for k, v in data["hit_at"].items()}
    bars = {"MRR": data["mrr"], **bars, "ceiling MRR": ceiling.get("mrr", 0.0)}
    images = {
        "MRR and hit@k (with the label ceiling)": report.bar_png(
            list(bars),
            [float(v or 0.0) for v in bars.values()],
            out_dir / "retrieval_scores.png",
            "FAQ retrieval",
        )
    }
    result["report"] = str(report.write_report(out_dir, "retrieval", result, images))
    return result


def eval_decisions(args: argparse.Namespace, progress: Callable, out_dir: Path) -> dict[str, Any]:
    """The whole graph: answered right / wrong, clarified, escalated, on held-out questions."""
    from bot.evaluation import decisions as d
    from bot.evaluation import report  # matplotlib: only when a report is written
    from bot.evaluation.ceiling import decisions_ceiling

    dataset = getattr(args, "dataset", "covidfaq")
    with tempfile.TemporaryDirectory(prefix="deskhand-dataset-") as built:
        faq, queries, oos, other_every = _decision_files(args, Path(built))
        rows = d.split_rows(d.load_labelled(queries, oos, args.limit, other_every), args.split)
        outcomes = d.run_outcomes(faq, rows, progress)
        result = {**d.score(outcomes), **d.latency(outcomes), "split": args.split}
        result["dataset"] = dataset
        result["intervals_95"] = _intervals(outcomes)
        smalltalk = d.load_jsonl(
            Path(args.smalltalk) if args.smalltalk else d.DATA_DIR / "smalltalk.jsonl"
        )
        followups = (
            d.load_jsonl(Path(args.followups))
            if args.followups
            else d.load_jsonl(d.DATA_DIR / "followups_covidfaq.jsonl")
            if dataset == "covidfaq"
            else []  # the bundled dev follow-up pairs are about CovidFAQ's articles
        )
        warmup = [row["question"] for row in d.load_jsonl(faq)][:20]
        result.update(d.run_dialogues(faq, smalltalk, followups, warmup))
    heldout = d.load_jsonl(
        Path(args.heldout_followups)
        if args.heldout_followups
        else d.DATA_DIR / "followups_sample_heldout.jsonl"
    )
    # dev pairs (CovidFAQ, written with the feature, tuned on) and held-out pairs (the sample KB)
    result["followups"] = {
        "dev": result["followups"],
        "heldout": d.run_sample_followups(heldout),
    }
    result["label_ceiling"] = decisions_ceiling(rows, max_wrong_rate=0.02)
    out_dir.mkdir(parents=True, exist_ok=True)
    images = {
        "Precision against coverage": report.precision_coverage_png(
            d.sweep(outcomes),
            out_dir / "decisions_precision_coverage.png",
            "Answers: precision vs coverage",
        ),
        "Latency of handle()": report.histogram_png(
            [o.latency_ms for o in outcomes], out_dir / "decisions_latency.png", "handle() latency"
        ),
    }
    result["report"] = str(report.write_report(out_dir, "decisions", result, images))
    return result


def _decision_files(args: argparse.Namespace, built: Path) -> tuple[Path, Path, Path, int]:
    """(faq, queries, off-topic, other_every) for `eval decisions`: CovidFAQ + CLINC150 val
    off-topic by default, or the CLINC-built help center written under `built`."""
    if getattr(args, "dataset", "covidfaq") == "clinc-kb":
        from bot.evaluation.clinc_kb import build_clinc_kb
        from knowledge.embeddings import get_embedder

        clinc = _default(None, "clinc150", "domains.json").parent
        faq, queries, oos = build_clinc_kb(clinc, built, get_embedder("minilm"))
        pick = (
            Path(args.faq) if args.faq else faq,
            Path(args.queries) if args.queries else queries,
        )
        return pick[0], pick[1], Path(args.oos) if args.oos else oos, 0
    return (
        _default(args.faq, "covidfaq", "faq.jsonl"),
        _default(args.queries, "covidfaq", "queries.jsonl"),
        _default(args.oos, "clinc150", "val.jsonl"),
        args.other_every,
    )


def _intervals(outcomes: list) -> dict[str, list[float]]:
    """95 % bootstrap intervals of the headline rates (items resampled with replacement)."""
    from bot.evaluation.decisions import bootstrap_interval

    inside = [o for o in outcomes if o.in_scope]
    outside = [o for o in outcomes if not o.in_scope]
    return {
        "in_scope_correct_rate": list(
            bootstrap_interval([o.route == "answer" and o.answered_id in o.gold for o in inside])
        ),
        "answered_wrong_rate": list(
            bootstrap_interval(
                [o.route == "answer" and o.answered_id not in o.gold for o in outcomes]
            )
        ),
        "oos_answered_rate": list(bootstrap_interval([o.route == "answer" for o in outside])),
    }


def run_calibrate(args: argparse.Namespace, progress: Callable[[int, int], None]) -> dict[str, Any]:
    """Pick thresholds on the dev half (or on history) for a target wrong-answer rate."""
    from bot.evaluation import decisions as d

    if args.history:
        from bot.app import get_app
        from bot.calibration import calibrate_from_history

        app = get_app()
        result = calibrate_from_history(app, args.target_wrong)
    else:
        oos = _default(args.oos, "clinc150", "val.jsonl")
        rows = d.split_rows(
            d.load_labelled(_default(args.queries, "covidfaq", "queries.jsonl"), oos), "dev"
        )
        outcomes = d.run_outcomes(_default(args.faq, "covidfaq", "faq.jsonl"), rows, progress)
        rows_sweep = d.sweep(outcomes)
        best = d.pick_thresholds(rows_sweep, args.target_wrong)
        frontier = {}
        for r in rows_sweep:
            if r["answered_wrong_rate"] <= args.target_wrong * 3:
                key = round(r["answered_wrong_rate"], 3)
                if (
                    key not in frontier
                    or r["answered_correct_rate"] > frontier[key]["answered_correct_rate"]
                ):
                    frontier[key] = r
        result = {
            "picked": best,
            "trade_off": sorted(frontier.values(), key=lambda r: r["answered_wrong_rate"])[:15],
        }
    if args.apply and result.get("picked"):
        from bot.app import get_app

        app = get_app()
        picked = result["picked"]
        app.settings.set(
            "thresholds",
            {**app.settings.thresholds(), "answer": picked["answer"], "clarify": picked["clarify"]},
            actor="calibrate",
        )
        result["applied"] = True
    return result
