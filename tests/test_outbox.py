"""The outbox: failed side effects are retried, and two workers never send the same one twice."""

from __future__ import annotations

import json
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
    deaths = [box.failed(doomed.id, "channel_not_found", retry_after_s=0) for _ in range(12)]
    assert deaths == [False] * (MAX_ATTEMPTS - 1) + [True]  # dies once, on the last attempt
    assert [i.kind for i in box.pending("slack")] == ["alert"]  # only the staff alert is left
    assert [i.id for i in box.items(status="dead")] == [doomed.id]


def test_a_dead_item_raises_one_durable_staff_alert(tmp_path):
    box = make_outbox(tmp_path)
    doomed = box.put("discord", "relay_to_member", {"ticket_id": 7}, thread_key="T1")
    for _ in range(MAX_ATTEMPTS + 3):  # failing a dead item again changes nothing
        box.failed(doomed.id, "Missing Access", retry_after_s=0)
    [alert] = box.pending("discord")
    assert alert.kind == "alert" and alert.thread_key == "alerts"
    text = json.loads(alert.payload)["text"]
    assert f"#{doomed.id}" in text and "ticket #7" in text and "Missing Access" in text
    for _ in range(MAX_ATTEMPTS):  # an alert that cannot be delivered raises no alert itself
        box.failed(alert.id, "boom", retry_after_s=0)
    assert box.pending("discord") == []


def test_only_the_head_of_a_thread_is_claimed_so_order_holds(tmp_path):
    box = make_outbox(tmp_path)
    b1 = box.put("slack", "post", {"text": "B1"}, error="internal_error", thread_key="C:1")
    b2 = box.put("slack", "post", {"text": "B2"}, thread_key="C:1")
    other = box.put("slack", "post", {"text": "elsewhere"}, thread_key="C:2")
    box.failed(b1.id, "internal_error", retry_after_s=3600)  # B1 backs off for an hour
    assert box.blocked("slack", "C:1") and not box.blocked("slack", "C:3")
    assert [i.id for i in box.due("slack", lease_s=0)] == [other.id]  # B2 never overtakes B1
    box.retry(b1.id)
    assert [i.id for i in box.due("slack", lease_s=0)] == [b1.id, other.id]
    box.done(b1.id)
    assert [i.id for i in box.due("slack", lease_s=0)] == [b2.id, other.id]


def test_in_flight_items_are_retried_after_a_crash(tmp_path):
    box = make_outbox(tmp_path)
    item = box.put("slack", "relay_to_member", {"text": "hi"}, thread_key="C:1", lease_s=-1)
    # the process died between put (intent) and done: the lease ran out, the item is due
    assert [i.id for i in box.due("slack")] == [item.id]


def test_retry_and_drop_of_dead_items(tmp_path):
    box = make_outbox(tmp_path)
    item = box.put("slack", "post", {"text": "x"})
    for _ in range(MAX_ATTEMPTS):
        box.failed(item.id, "channel_not_found", retry_after_s=0)
    revived = box.retry(item.id)
    assert revived.status == "pending" and revived.attempts == 0
    assert box.drop(item.id).status == "dropped"
    try:
        box.drop(item.id)
    except ValueError as err:
        assert f"#{item.id}" in str(err)
    else:
        raise AssertionError("dropping twice must explain itself")
