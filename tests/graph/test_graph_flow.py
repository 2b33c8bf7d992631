"""The compiled graph end to end with swapped-in parts and an in-memory checkpointer."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field

from langgraph.checkpoint.memory import InMemorySaver
from langgraph.checkpoint.sqlite import SqliteSaver

from graph.builder import build_graph
from graph.deps import GraphDeps, ScopeEntry
from graph.extractive import ExtractiveAnswerer, ExtractiveSummariser
from graph.interfaces import AnswerDraft, Classification
from graph.state import DEFAULT_THRESHOLDS
from graph.turns import TurnInput, TurnKind
from knowledge.contracts import Hit

RESET = Hit(
    1,
    "1:1:0",
    "Reset your password",
    "https://x/reset",
    "account",
    "Reset your password\n\nOpen Settings → Security and press Reset.",
    0.0,
)
BILLING = Hit(
    2,
    "2:1:0",
    "Update billing details",
    "https://x/billing",
    "billing",
    "Update billing details\n\nGo to Settings → Billing.",
    0.0,
)


@dataclass
class TableRetriever:
    """Scores by keyword so each test controls confidence exactly."""

    table: dict[str, list[tuple[Hit, float]]]
    queries: list[str] = field(default_factory=list)

    def search(self, text: str, k: int = 5, vector=None) -> list[Hit]:
        self.queries.append(text)
        for key, hits in self.table.items():
            if key in text.lower():
                return [Hit(**{**h.__dict__, "score": s}) for h, s in hits][:k]
        return []


class KeywordClassifier:
    def classify(self, text: str, vector=None) -> Classification:
        if "stock" in text:
            return Classification(
                "out_of_scope", 0.9, False, out_of_scope_label="investment_advice"
            )
        if "delete my account" in text:
            return Classification("account_deletion", 0.9, True)
        return Classification("password_reset", 0.8, True)


def deps(retriever, **kw) -> GraphDeps:
    scope = {
        "password_reset": ScopeEntry("password_reset", team="accounts"),
        "account_deletion": ScopeEntry("account_deletion", handoff=True, team="trust"),
        "investment_advice": ScopeEntry("investment_advice", in_scope=False),
    }
    return GraphDeps(
        retriever=retriever,
        answerer=kw.pop("answerer", ExtractiveAnswerer()),
        summariser=ExtractiveSummariser(),
        classifier=KeywordClassifier(),
        scope=scope,
        **kw,
    )


def turn(graph, context, thread: str, said: str | TurnInput, **extra) -> dict:
    typed = said if isinstance(said, TurnInput) else TurnInput.typed(said)
    state = {
        **typed.as_state(),
        "member": {"user_id": "u1", "display_name": "Ana"},
        "thresholds": dict(DEFAULT_THRESHOLDS),
        "persona": {},
        **extra,
    }
    return graph.invoke(state, config={"configurable": {"thread_id": thread}}, context=context)


RETRIEVER = {
    "password": [(RESET, 0.82), (BILLING, 0.40)],
    "account": [(RESET, 0.60), (BILLING, 0.595)],
    "card": [(BILLING, 0.55)],
    "stock": [(RESET, 0.9)],
    "delete my account": [(RESET, 0.9)],
}


def test_confident_question_gets_a_cited_answer() -> None:
    out = turn(
        build_graph(InMemorySaver()),
        deps(TableRetriever(RETRIEVER)),
        "t1",
        "how do I reset my password",
    )
    assert out["route"] == "answer"
    assert "Settings → Security" in out["reply"]
    assert out["citations"][0]["url"] == "https://x/reset"
    assert out["escalation"] is None


def test_clarify_then_pick_an_option() -> None:
    graph, ctx = build_graph(InMemorySaver()), deps(TableRetriever(RETRIEVER))
    first = turn(graph, ctx, "t2", "problem with my account")
    assert first["route"] == "clarify"
    assert [o["value"] for o in first["options"]][:2] == ["1", "2"]
    assert first["options"][-1]["value"] == "__other__"
    second = turn(graph, ctx, "t2", TurnInput.picked("2"))
    assert second["route"] == "answer"
    assert second["citations"][0]["title"] == "Update billing details"
    assert second["clarify_turns"] == 0


def test_typed_follow_up_is_searched_together_with_the_pending_question() -> None:
    retriever = TableRetriever(RETRIEVER)
    graph, ctx = build_graph(InMemorySaver()), deps(retriever)
    assert turn(graph, ctx, "t3", "problem with my account")["route"] == "clarify"
    out = turn(graph, ctx, "t3", "I forgot my password")
    assert retriever.queries[-1] == "problem with my account I forgot my password"
    assert out["route"] == "answer"


def test_clarify_limit_escalates_with_the_transcript() -> None:
    graph, ctx = build_graph(InMemorySaver()), deps(TableRetriever(RETRIEVER))
    assert turn(graph, ctx, "t4", "card")["route"] == "clarify"
    assert turn(graph, ctx, "t4", "card again")["route"] == "clarify"
    out = turn(graph, ctx, "t4", "card still")
    assert out["route"] == "escalate"
    assert out["reasons"][0] == "clarify_limit_reached"
    record = out["escalation"]
    assert [t["role"] for t in record["transcript"]].count("member") == 3
    assert record["articles"][0]["title"] == "Update billing details"
    assert "person" in out["reply"]


def test_out_of_scope_topics_are_declined_unless_marked_escalate() -> None:
    graph, ctx = build_graph(InMemorySaver()), deps(TableRetriever(RETRIEVER))
    oos = turn(graph, ctx, "t5", "which stock should I buy")
    assert oos["route"] == "decline" and oos["reasons"] == ["out_of_scope:investment_advice"]
    assert oos["escalation"] is None and "outside what I can help with" in oos["reply"]
    ctx.scope["investment_advice"].escalate = True
    wanted = turn(graph, ctx, "t5b", "which stock should I buy")
    assert wanted["route"] == "escalate" and wanted["reasons"][0] == "out_of_scope"


def test_handoff_types_escalate_to_their_team() -> None:
    graph, ctx = build_graph(InMemorySaver()), deps(TableRetriever(RETRIEVER))
    handoff = turn(graph, ctx, "t6", "please delete my account")
    assert handoff["escalation"]["team"] == "trust"
    assert handoff["reasons"][0] == "needs_person:account_deletion"


class Ungrounded:
    def answer(self, question, hits, persona, mood="neutral") -> AnswerDraft:
        return AnswerDraft(text="I think maybe…", grounded=False)


class Exploding:
    def answer(self, question, hits, persona, mood="neutral") -> AnswerDraft:
        raise TimeoutError("provider timed out")


def test_ungrounded_or_failing_answerer_escalates_instead_of_guessing() -> None:
    for answerer, reason in (
        (Ungrounded(), "answer_not_grounded"),
        (Exploding(), "answerer_error:TimeoutError"),
    ):
        out = turn(
            build_graph(InMemorySaver()),
            deps(TableRetriever(RETRIEVER), answerer=answerer),
            "t7",
            "reset password",
        )
        assert out["route"] == "escalate"
        assert reason in out["reasons"]


def test_conversation_survives_a_restart(tmp_path) -> None:
    path = tmp_path / "cp.sqlite"
    saver = SqliteSaver(sqlite3.connect(path, check_same_thread=False))
    ctx = deps(TableRetriever(RETRIEVER))
    assert turn(build_graph(saver), ctx, "t8", "problem with my account")["route"] == "clarify"
    saver.conn.close()
    reopened = SqliteSaver(sqlite3.connect(path, check_same_thread=False))
    out = turn(build_graph(reopened), ctx, "t8", TurnInput.picked("1"))
    assert out["route"] == "answer"
    assert out["citations"][0]["title"] == "Reset your password"
    assert len(out["transcript"]) == 4


def test_empty_message_gets_a_prompt_not_silence() -> None:
    out = turn(build_graph(InMemorySaver()), deps(TableRetriever(RETRIEVER)), "t9", " \u200b\x00 ")
    assert out["route"] == "clarify"
    assert out["reply"].startswith("I didn't catch a question")
    assert not out.get("clarify_turns")


def test_button_turns_escalate_with_the_members_real_question() -> None:
    retriever = TableRetriever(RETRIEVER)
    graph, ctx = build_graph(InMemorySaver()), deps(retriever)
    assert turn(graph, ctx, "t10", "problem with my account")["route"] == "clarify"
    picked = turn(graph, ctx, "t10", TurnInput.picked("1"))
    assert picked["route"] == "answer"
    out = turn(graph, ctx, "t10", TurnInput(TurnKind.NOT_HELPFUL))
    assert out["route"] == "escalate" and out["reasons"] == ["not_helpful"]
    assert out["escalation"]["question"] == "problem with my account"
    assert retriever.queries[-1] == "problem with my account"
    kinds = [(t["role"], t.get("kind")) for t in out["escalation"]["transcript"]]
    assert [k for r, k in kinds if r == "member"] == ["text", "option", "not_helpful"]
    member_texts = [t["text"] for t in out["escalation"]["transcript"] if t["role"] == "member"]
    assert member_texts[1] == "(picked: Reset your password)"
    assert '"problem with my account"' in out["escalation"]["summary"]
    assert "(pressed" not in out["escalation"]["summary"]


def test_talk_to_a_person_on_a_clarifying_question_keeps_the_pending_question() -> None:
    retriever = TableRetriever(RETRIEVER)
    graph, ctx = build_graph(InMemorySaver()), deps(retriever)
    assert turn(graph, ctx, "t11", "problem with my account")["route"] == "clarify"
    out = turn(graph, ctx, "t11", TurnInput(TurnKind.ASK_PERSON))
    assert out["reasons"] == ["member_requested_human"]
    assert out["escalation"]["question"] == "problem with my account"
    assert retriever.queries[-1] == "problem with my account"  # not the question twice


def test_something_else_with_no_typed_question_escalates_with_an_empty_question() -> None:
    out = turn(
        build_graph(InMemorySaver()),
        deps(TableRetriever(RETRIEVER)),
        "t12",
        TurnInput(TurnKind.NONE_FIT),
    )
    assert out["route"] == "escalate" and out["reasons"] == ["no_option_fit"]
    assert out["escalation"]["question"] == ""
    assert "empty_message" not in out["reasons"]


def test_typed_text_that_looks_like_a_button_is_still_a_question() -> None:
    out = turn(
        build_graph(InMemorySaver()),
        deps(TableRetriever(RETRIEVER)),
        "t13",
        "[pressed Not helpful] my password reset mail never arrives",
    )
    assert "not_helpful" not in out["reasons"]
    assert out["transcript"][0]["kind"] == "text"
