"""A long conversation costs checkpoint storage linearly at most (it used to be quadratic)."""

from __future__ import annotations

from bot.checkpoints import prune_thread
from bot.evaluation.bench import sample_questions
from bot.evaluation.storage import checkpoint_growth, thread_checkpoint_bytes
from graph.state import TRANSCRIPT_WINDOW, recent_turns


def test_the_transcript_in_graph_state_is_a_window():
    turns = [{"role": "member", "text": str(i)} for i in range(TRANSCRIPT_WINDOW + 5)]
    kept = recent_turns(turns[:10], turns[10:])
    assert len(kept) == TRANSCRIPT_WINDOW and kept[-1]["text"] == turns[-1]["text"]


def test_checkpoint_bytes_of_one_thread_stay_bounded(app):
    growth = checkpoint_growth(app, sample_questions(), messages=60, marks=(15, 60))
    assert growth["routes"] == {"answer": 60}  # every message really went through the graph
    small, large = growth["bytes_at"][15], growth["bytes_at"][60]
    assert small > 0
    # 4x the messages: quadratic growth would be ~16x, linear 4x; a window + pruning is ~1x
    assert large / small < 2.0, growth


def test_pruning_keeps_only_the_latest_checkpoints(app):
    from bot.contracts import IncomingMessage, Member

    for i in range(5):
        app.service.handle(
            IncomingMessage("cli", "c", "prune", f"m{i}", "how do I export my data?", Member("u"))
        )
    key = "cli:c:prune"
    rows = app.checkpointer.conn.execute(
        "SELECT COUNT(*) FROM checkpoints WHERE thread_id = ?", (key,)
    ).fetchone()[0]
    assert 1 <= rows <= 2
    assert prune_thread(app.checkpointer, key, keep=1) == rows - 1
    assert thread_checkpoint_bytes(app.checkpointer, key) > 0
    state = app.graph.get_state({"configurable": {"thread_id": key}})
    assert state.values.get("transcript")  # the conversation still resumes
