"""clarify: ask which of 2-3 candidate topics the member means (or for any question at all)."""

from __future__ import annotations

from typing import Any

from langgraph.runtime import Runtime

from graph.deps import GraphDeps
from graph.phrases import phrase
from graph.state import SupportState, thresholds_with_defaults
from graph.turns import NONE_FIT_OPTION

EMPTY_PROMPT = "I didn't catch a question there. What can I help you with?"
OTHER_OPTION = {"label": "Something else", "value": NONE_FIT_OPTION}


def candidate_options(
    hits: list[dict[str, Any]], floor: float, limit: int = 3
) -> list[dict[str, str]]:
    """Distinct articles worth offering, best first, as {label, value} options."""
    seen: set[int] = set()
    options: list[dict[str, str]] = []
    for hit in hits:
        if hit["article_id"] in seen or (options and hit["score"] < floor):
            continue
        seen.add(hit["article_id"])
        options.append({"label": hit["title"], "value": str(hit["article_id"])})
        if len(options) == limit:
            break
    return options


def default_question(options: list[dict[str, str]], lang: str = "en") -> str:
    """A plain clarifying question naming the candidate topics."""
    if lang != "en":
        names = "\n".join(f"{i}. {o['label']}" for i, o in enumerate(options, 1))
        return phrase("clarify", lang, options=names)
    if len(options) == 1:
        return f"I want to get this right. Is your question about *{options[0]['label']}*? Pick it below, or tell me a bit more."
    names = "\n".join(f"{i}. {o['label']}" for i, o in enumerate(options, 1))
    return f"I want to get this right. Which of these is closest to what you need?\n{names}\nPick one below, or tell me a bit more."


def clarify(state: SupportState, runtime: Runtime[GraphDeps]) -> dict[str, Any]:
    """Ask a clarifying question; empty input just gets a prompt and costs no clarify turn."""
    lang = str(state.get("language") or "en")
    if "empty" in (state.get("guard_flags") or []):
        prompt = EMPTY_PROMPT if lang == "en" else phrase("empty", lang)
        return {
            "route": "clarify",
            "reasons": ["empty_message"],
            "reply": prompt,
            "options": [],
            "transcript": [{"role": "bot", "text": prompt, "route": "clarify"}],
        }
    th = thresholds_with_defaults(state.get("thresholds"))
    hits = state.get("hits") or []
    options = candidate_options(hits, floor=th["clarify"] * 0.9)
    question = default_question(options, lang)
    if runtime.context.clarifier is not None:
        try:
            phrased = runtime.context.clarifier(
                state.get("query", ""),
                [o["label"] for o in options],
                dict(state.get("persona") or {}),
            )
            question = phrased.strip() or question
        except Exception:  # fall back to the plain question, never to silence
            pass
    return {
        "reply": question,
        "options": [*options, OTHER_OPTION],
        "pending_question": state.get("query") or state.get("clean_text", ""),
        "clarify_turns": int(state.get("clarify_turns") or 0) + 1,
        "last_hits": hits,
        "transcript": [{"role": "bot", "text": question, "route": "clarify"}],
    }
