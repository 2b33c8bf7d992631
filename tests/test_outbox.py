"""The outbox: failed side effects are retried, and two workers never send the same one twice."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

from bot.db import make_engine
from bot.outbox import MAX_ATTEMPTS, Outbox


def make_outbox(tmp_path) -> Outbox:
    return Outbox(make_engine(f"sqlite:///{tmp_path / 'outbox.sqlite'}"))


def test_claimed_items_are_hidden_until_their_lease_runs_out(tmp_path):
    box = make_outbox(tmp_path)
    first = box.put("slack", "relay_to_member", {"text": "a"}, error="rate_limited")
    second = box.put("slack", "relay_to_member", {"text": "b"})
    box.put("discord", "post", {"text": "elsewhere"})
    assert [i.id for i in box.due("slack")] == [first.id, second.id]  # in order
    assert box.due("slack") == []  # leased to the first worker
    assert box.pending_count("slack") == 2  # still waiting, just claimed
    assert [i.id for i in box.due("slack", lease_s=0)] == []  # nothing due yet


def test_an_expired_lease_is_retried(tmp_path):
    box = make_outbox(tmp_path)
    item = box.put("slack", "post", {"text": "x"})
    assert [i.id for i in box.due("slack", lease_s=-1)] == [item.id]  # worker died at once
    assert [i.id for i in box.due("slack")] == [item.id]  # so another worker picks it up


def test_concurrent_workers_claim_each_item_once(tmp_path):
    box = make_outbox(tmp_path)
    ids = {box.put("slack", "post", {"n": n}).id for n in range(30)}
    workers = 6
    barrier = threading.Barrier(workers)

    def worker(_: int) -> list[int]:
        barrier.wait()
        return [i.id for i in Outbox(box.engine).due("slack", limit=30)]

    with ThreadPoolExecutor(workers) as pool:
        claimed = [item_id for batch in pool.map(worker, range(workers)) for item_id in batch]
    assert sorted(claimed) == sorted(ids)  # every item once, none twice


def test_done_and_dead_items_leave_the_queue(tmp_path):
    box = make_outbox(tmp_path)
    sent = box.put("slack", "post", {"text": "x"})
    box.done(sent.id)
    doomed = box.put("slack", "post", {"text": "y"})
    for _ in range(MAX_ATTEMPTS):
        box.failed(doomed.id, "channel_not_found", retry_after_s=0)
    assert box.pending("slack") == []
