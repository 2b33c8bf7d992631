"""Charts are an optional extra (matplotlib): without it every report still works and says so once."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from matplotlib.figure import Figure

NO_CHARTS = (
    "Chart not drawn: matplotlib is not installed (pip install 'deskhand[charts]'); "
    "the figures are all in the text."
)


def figure_class() -> type[Figure] | None:
    """matplotlib's Figure (Agg canvas, no display needed), or None when the extra is missing."""
    try:
        from matplotlib.figure import Figure
    except ImportError:
        return None
    return Figure


def with_chart_note(text: str, png: bytes | None) -> str:
    """The text, plus the one-line note when the chart it came with could not be drawn."""
    return text if png is not None else f"{text}\n{NO_CHARTS}".strip()
