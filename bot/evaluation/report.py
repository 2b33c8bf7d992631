"""Markdown reports with PNG plots, so people can look instead of read (plots need the charts extra)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from bot.charts_extra import NO_CHARTS


def _pyplot() -> Any | None:
    """matplotlib.pyplot on the Agg backend, imported on first use; None without the extra."""
    try:
        import matplotlib
    except ImportError:
        return None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def precision_coverage_png(rows: list[dict[str, Any]], path: Path, title: str) -> Path | None:
    """Precision of answers against coverage as the answer threshold moves."""
    plt = _pyplot()
    if plt is None:
        return None
    best: dict[float, dict[str, Any]] = {}
    for row in rows:  # one point per answer threshold, clarify held at min(answer, 0.45)
        target = min(row["answer"], 0.45)
        held = best.get(row["answer"])
        if held is None or abs(row["clarify"] - target) < abs(held["clarify"] - target):
            best[row["answer"]] = row
    points = sorted(best.values(), key=lambda r: r["answer"])
    coverage = [(r["answered_correct"] + r["answered_wrong"]) / max(r["n"], 1) for r in points]
    precision = [
        r["answered_correct"] / max(r["answered_correct"] + r["answered_wrong"], 1) for r in points
    ]
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot(coverage, precision, marker=".")
    for r, x, y in zip(points, coverage, precision, strict=True):
        if round(r["answer"] * 100) % 10 == 0:
            ax.annotate(f"{r['answer']:.1f}", (x, y), fontsize=7)
    ax.set_xlabel("coverage (share of questions answered)")
    ax.set_ylabel("precision (answers that were right)")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def histogram_png(values: list[float], path: Path, title: str, xlabel: str = "ms") -> Path | None:
    """A latency histogram."""
    plt = _pyplot()
    if plt is None:
        return None
    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.hist(values, bins=40)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("count")
    ax.set_title(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def curve_png(
    xs: list[float], series: dict[str, list[float]], path: Path, title: str, xlabel: str
) -> Path | None:
    """Several y-series over one x-axis (learning curves, threshold sweeps)."""
    plt = _pyplot()
    if plt is None:
        return None
    fig, ax = plt.subplots(figsize=(6, 4))
    for label, ys in series.items():
        ax.plot(xs, ys, marker="o", label=label)
    ax.set_xlabel(xlabel)
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def bar_png(labels: list[str], values: list[float], path: Path, title: str) -> Path | None:
    """Horizontal bars (worst intents, confusion summary)."""
    plt = _pyplot()
    if plt is None:
        return None
    fig, ax = plt.subplots(figsize=(6, max(2.5, 0.3 * len(labels))))
    ax.barh(labels[::-1], values[::-1])
    ax.set_title(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def write_report(
    out_dir: Path,
    name: str,
    summary: dict[str, Any],
    images: dict[str, Path | None],
    notes: str = "",
) -> Path:
    """Write NAME.md with the summary table and embedded plots (one line if none could be drawn)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    lines = [f"# Deskhand evaluation: {name}", ""]
    if notes:
        lines += [notes, ""]
    lines += ["| metric | value |", "|---|---|"]
    for key, value in summary.items():
        if not isinstance(value, list | dict):
            lines.append(f"| {key} | {value} |")
    lines.append("")
    if any(image is None for image in images.values()):
        lines += [NO_CHARTS, ""]
    for caption, image in images.items():
        if image is not None:
            lines += [f"## {caption}", "", f"![{caption}]({image.name})", ""]
    path = out_dir / f"{name}.md"
    path.write_text("\n".join(lines), encoding="utf-8")
    (out_dir / f"{name}.json").write_text(
        json.dumps(summary, indent=2, default=str), encoding="utf-8"
    )
    return path
