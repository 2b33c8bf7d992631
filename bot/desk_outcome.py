"""What a desk change leaves for the platforms to do, and how that is recorded before it is done.

Every desk change (claim, resolve, hand back, a relayed staff reply, a drafted reply, a transfer,
a reopen, an issue-type fix) ends in one DeskOutcome. Its deliverable parts (the member's notice
and rating prompt, the card to redraw or post again, notices in staff threads) become outbox
items keyed by the thread they go to, written before anything is sent: a crash loses nothing
and a thread's messages never overtake each other. Slack, Discord and the console deliver a part
the same way whether it comes straight from a button press or from the outbox.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Literal

from bot.models import OutboxItem, Ticket
from bot.outbox import staff_key

OUTCOME_KIND = "desk_outcome"  # outbox kind of one deliverable part of a DeskOutcome
CARD_KIND = "escalation_card"  # posting the card (again, after a transfer) is the card's own step
PostKind = Literal["relay", "claimed", "handed_back", "transferred", "reopened"]


@dataclass(frozen=True)
class MemberPost:
    """A message for the member's thread; `text` is plain and safe, the renderer escapes it."""

    kind: PostKind
    text: str
    staff_name: str = ""  # for relays: shown as "NAME (staff)"
    drafted: bool = False  # the bot's Markdown draft (sent as is), not text a person typed


@dataclass(frozen=True)
class StaffNotice:
    """A plain notice in a staff thread: the old thread of a moved ticket, an issue-type fix."""

    channel: str
    thread: str
    text: str


@dataclass(frozen=True)
class Part:
    """One deliverable piece of an outcome as an outbox item: kind, payload, thread order key."""

    kind: str
    payload: dict[str, Any]
    thread_key: str


@dataclass
class DeskOutcome:
    """What the adapter must render after a desk action; nothing here is platform markup."""

    ticket_id: int
    ok: bool = True
    private_note: str = ""  # only the person who acted sees this (a refusal or an error)
    to_member: list[MemberPost] = field(default_factory=list)
    rating_prompt: bool = False  # ask the member for a 1-5 rating (with buttons)
    refresh_card: bool = False  # redraw the escalation card (status, owner, buttons)
    repost_card: bool = False  # post the card again where the ticket now lives (a transfer)
    staff_notices: list[StaffNotice] = field(default_factory=list)
    staff_mark: str = ""  # on the staff message: "note" (kept internal) | "relayed" | "ignored"
    buttons_done: str = ""  # the pressed buttons are replaced by this line ("" = leave them)
    status: str = ""  # the ticket's status afterwards
    member_channel_id: str = ""
    member_thread_id: str = ""
    member_user_id: str = ""

    @property
    def refused(self) -> bool:
        """The action was not done (policy refusal, or a desk error)."""
        return not self.ok

    def to_dict(self) -> dict[str, Any]:
        """Plain data for an outbox payload."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DeskOutcome:
        """The outcome stored in an outbox payload."""
        fields = dict(data)
        fields["to_member"] = [MemberPost(**p) for p in data.get("to_member") or []]
        fields["staff_notices"] = [StaffNotice(**n) for n in data.get("staff_notices") or []]
        return cls(**fields)

    def parts(self, platform: str) -> list[Part]:
        """The outcome's deliveries, each alone, in the order they must go out.

        Relays are not parts: staff speech travels as `relay_to_member`, recorded the same way.
        Only what every viewer sees is kept; private notes and button marks answer the actor now.
        """
        tid = self.ticket_id
        base = DeskOutcome(ticket_id=tid, status=self.status)
        found = [
            Part(OUTCOME_KIND, replace(base, staff_notices=[n]).to_dict(), staff_key(tid))
            for n in self.staff_notices
        ]
        if self.repost_card:
            found.append(Part(CARD_KIND, {"ticket_id": tid, "transfer": True}, staff_key(tid)))
        notices = [p for p in self.to_member if p.kind != "relay"]
        if notices or self.rating_prompt:
            member = replace(
                base,
                to_member=notices,
                rating_prompt=self.rating_prompt,
                member_channel_id=self.member_channel_id,
                member_thread_id=self.member_thread_id,
                member_user_id=self.member_user_id,
            )
            key = member_thread_key(platform, self.member_channel_id, self.member_thread_id)
            found.append(Part(OUTCOME_KIND, member.to_dict(), key))
        if self.refresh_card and not self.repost_card:
            found.append(
                Part(OUTCOME_KIND, replace(base, refresh_card=True).to_dict(), card_key(tid))
            )
        return found


def card_key(ticket_id: int) -> str:
    """Card redraws are ordered apart from the staff thread, so one never holds up a relay."""
    return f"ticket:{ticket_id}:card"


def member_thread_key(platform: str, channel: str, thread: str) -> str:
    """The outbox ordering key of a member thread, as that platform's delivery spells it.

    Must match bot/slack/delivery.thread_key and bot/discord/delivery.post_chunks, so a notice
    waits behind (and never overtakes) anything still parked for the same thread.
    """
    if platform == "slack":
        return f"{channel}:{thread}" if channel else ""
    return str(thread or channel)


def member_outcome(ticket: Ticket, **fields: Any) -> DeskOutcome:
    """An outcome addressed to the ticket's member thread."""
    member = json.loads(ticket.member or "{}")
    return DeskOutcome(
        ticket_id=int(ticket.id or 0),
        status=ticket.status,
        member_channel_id=ticket.member_channel_id,
        member_thread_id=ticket.member_thread_id,
        member_user_id=str(member.get("user_id") or ""),
        **fields,
    )


def outbox_items(outcome: DeskOutcome, platform: str) -> list[OutboxItem]:
    """The outcome's parts as outbox rows, due now: add them in the desk change's transaction."""
    return [
        OutboxItem(
            platform=platform, kind=p.kind, payload=json.dumps(p.payload), thread_key=p.thread_key
        )
        for p in outcome.parts(platform)
    ]
