"""Without the charts extra (matplotlib), stats, trends, digests and eval reports still work and say so."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from admin_commands import run_command
from bot.charts_extra import NO_CHARTS, with_chart_note
from bot.evaluation import report
from bot.monitoring.charts import render_bars, render_lines
from tests.admin.conftest import STAFF, ask


@pytest.fixture
def no_matplotlib(monkeypatch) -> None:
    """Make every matplotlib import fail, as in a venv installed without the charts extra."""
    for name in [m for m in sys.modules if m == "matplotlib" or m.startswith("matplotlib.")]:
        monkeypatch.delitem(sys.modules, name)
    for name in ("matplotlib", "matplotlib.figure", "matplotlib.pyplot"):
        monkeypatch.setitem(sys.modules, name, None)


def test_stats_and_trend_keep_their_figures_and_say_the_chart_is_missing(app, no_matplotlib):
    assert ask(app, "How do I reset my password?", user="UA").route == "answer"
    result = run_command(app, STAFF, "stats 7d")
    assert result.ok and result.image_png is None
    assert dict(result.fields)["Questions"] == "1"
    assert result.text.count(NO_CHARTS) == 1 and "pip install 'deskhand[charts]'" in result.text
    trend = run_command(app, STAFF, "stats 4w trend")
    assert trend.ok and trend.image_png is None and trend.table
    assert trend.text.endswith(NO_CHARTS)
    digest = run_command(app, STAFF, "digest")
    assert digest.ok and digest.image_png is None and NO_CHARTS in digest.text


def test_renderers_return_none_and_the_note_is_added_only_then(no_matplotlib):
    data = {"labels": ["2026-11-30"], "series": {"x": [1]}, "title": "t"}
    assert render_lines(data) is None and render_bars(data) is None
    assert with_chart_note("figures", None) == f"figures\n{NO_CHARTS}"
    assert with_chart_note("figures", b"png") == "figures"


def test_eval_report_is_written_without_plots(tmp_path: Path, no_matplotlib):
    image = report.curve_png([1, 2], {"a": [0.5, 0.6]}, tmp_path / "c.png", "t", "x")
    assert image is None and not (tmp_path / "c.png").exists()
    path = report.write_report(tmp_path, "intents", {"accuracy": 0.96}, {"Curve": image})
    text = path.read_text()
    assert "| accuracy | 0.96 |" in text and NO_CHARTS in text and "![" not in text


def test_eval_report_embeds_plots_with_matplotlib(tmp_path: Path):
    image = report.curve_png([1, 2], {"a": [0.5, 0.6]}, tmp_path / "c.png", "t", "x")
    assert image is not None and image.read_bytes().startswith(b"\x89PNG")
    text = report.write_report(tmp_path, "intents", {}, {"Curve": image}).read_text()
    assert "![Curve](c.png)" in text and NO_CHARTS not in text
