"""respond: a short reply to small talk, or a polite decline for off-topic questions. No ticket."""

from __future__ import annotations

from typing import Any

from langgraph.runtime import Runtime

from graph.deps import GraphDeps
from graph.nodes.common import persona_from
from graph.phrases import offer, phrase
from graph.smalltalk import GOODBYE, GREETING, THANKS
from graph.state import SupportState


def last_bot_route(state: SupportState) -> str:
    """The route of the bot's previous reply in this conversation ('' when there is none)."""
    earlier = [t for t in state.get("transcript") or [] if t.get("role") == "bot"]
    return str(earlier[-1].get("route", "")) if earlier else ""


def small_talk_reply(kind: str, state: SupportState, topics: list[str]) -> tuple[str, list[str]]:
    """The reply text and reasons for a greeting, a thanks or a goodbye."""
    lang = str(state.get("language") or "en")
    if kind == THANKS and last_bot_route(state) == "answer":
        return phrase("thanks_resolved", lang), ["thanks", "confirmed_resolution"]
    if kind == THANKS:
        return f"{phrase('thanks', lang)} {offer(topics, lang)}", ["thanks"]
    if kind == GOODBYE:
        return phrase("goodbye", lang), ["goodbye"]
    name = persona_from(state).name
    return f"{phrase('greeting', lang, name=name)} {offer(topics, lang)}", [GREETING]


def respond(state: SupportState, runtime: Runtime[GraphDeps]) -> dict[str, Any]:
    """Write the small-talk reply or the decline; the member keeps a way to reach a person."""
    topics = list(runtime.context.help_topics)
    lang = str(state.get("language") or "en")
    if state.get("route") == "smalltalk":
        text, reasons = small_talk_reply(str(state.get("small_talk") or GREETING), state, topics)
    else:
        text = f"{phrase('decline', lang)} {offer(topics, lang)} {phrase('decline_person', lang)}"
        reasons = list(state.get("reasons") or ["off_topic"])
    return {
        "reply": text,
        "reasons": reasons,
        "pending_question": "",
        "clarify_turns": 0,
        "transcript": [{"role": "bot", "text": text, "route": state.get("route")}],
    }
