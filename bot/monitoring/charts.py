"""Line and bar charts as PNGs whose embedded JSON is exactly the data drawn (tests read it back)."""

from __future__ import annotations

import io
import json
from typing import Any

from bot.charts_extra import figure_class
from bot.monitoring.scorecard import TREND_FIGURES

MAX_LINES = 6


def trend_data(
    report: dict[str, Any], figure: str | None = None, title: str = ""
) -> dict[str, Any]:
    """The lines of a trend: the rate figures overall, or one figure per segment (top by volume)."""
    series = report.get("series") or []
    labels = [bucket["start"] for bucket in series]
    lines: dict[str, list[Any]] = {}
    if report.get("segments"):
        figure = figure or "escalation_rate"
        ranked = sorted(
            report["segments"].items(), key=lambda kv: -kv[1]["scorecard"]["conversations"]
        )
        for name, entry in ranked[:MAX_LINES]:
            lines[name] = [b[figure] for b in entry["series"]]
    else:
        for name in [figure] if figure else TREND_FIGURES:
            lines[name] = [b[name] for b in series]
    return {
        "kind": "lines",
        "title": title,
        "figure": figure or "rates",
        "labels": labels,
        "series": lines,
        "conversations": [b["conversations"] for b in series],
    }


def render_chart(data: dict[str, Any]) -> bytes | None:
    """Any chart dict: bars, lines, or panels (several stacked); None without matplotlib."""
    if data.get("kind") == "panels":
        return render_panels(data)
    return render_bars(data) if data.get("kind") == "bars" else render_lines(data)


def render_panels(data: dict[str, Any]) -> bytes | None:
    """Several charts stacked in one PNG (the digest's bars over its learning curve)."""
    figure = figure_class()
    if figure is None:
        return None
    panels = data["panels"]
    fig = figure(figsize=(7.5, 3.4 * len(panels)), dpi=100)
    for n, panel in enumerate(panels, 1):
        ax = fig.add_subplot(len(panels), 1, n)
        (_draw_bars if panel.get("kind") == "bars" else _draw_lines)(ax, panel)
    return _png(fig, data)


def render_lines(data: dict[str, Any]) -> bytes | None:
    """A line chart PNG (matplotlib Agg); gaps where a period had no data; None without matplotlib."""
    figure = figure_class()
    if figure is None:
        return None
    fig = figure(figsize=(7.5, 3.8), dpi=100)
    _draw_lines(fig.add_subplot(), data)
    return _png(fig, data)


def _draw_lines(ax: Any, data: dict[str, Any]) -> None:
    x = list(range(len(data["labels"])))
    for name, values in data["series"].items():
        ys = [float("nan") if v is None else v for v in values]
        ax.plot(x, ys, marker="o", markersize=3, label=name)
    if data.get("marker") is not None:
        ax.axvline(data["marker"], color="#c62828", linestyle="--", linewidth=1)
    step = max(1, len(x) // 10)
    ticks = data.get("xlabels") or [label[5:] for label in data["labels"]]
    ax.set_xticks(x[::step], ticks[::step], fontsize=8)
    ax.legend(loc="upper left", fontsize=7)
    ax.set_title(data.get("title") or "Deskhand trend", fontsize=10)
    ax.grid(alpha=0.3)


def render_bars(data: dict[str, Any]) -> bytes | None:
    """A bar chart PNG of {labels, series: {name: values}} (grouped bars); None without matplotlib."""
    figure = figure_class()
    if figure is None:
        return None
    fig = figure(figsize=(7.5, 3.8), dpi=100)
    _draw_bars(fig.add_subplot(), data)
    return _png(fig, data)


def _draw_bars(ax: Any, data: dict[str, Any]) -> None:
    names = list(data["series"])
    width = 0.8 / max(1, len(names))
    for i, name in enumerate(names):
        xs = [j + i * width for j in range(len(data["labels"]))]
        ys = [0 if v is None else v for v in data["series"][name]]
        ax.bar(xs, ys, width=width, label=name)
    ax.set_xticks(
        [j + width * (len(names) - 1) / 2 for j in range(len(data["labels"]))],
        data["labels"],
        fontsize=7,
        rotation=20,
    )
    ax.legend(fontsize=7)
    ax.set_title(data.get("title") or "Deskhand", fontsize=10)


def _png(fig: Any, data: dict[str, Any]) -> bytes:
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(
        buffer,
        format="png",
        metadata={"Title": data.get("title") or "Deskhand", "Description": json.dumps(data)},
    )
    return buffer.getvalue()
