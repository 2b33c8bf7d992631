"""The staff desk for every platform: staff replies, card buttons, drafted replies and ratings.

Each call checks the Policy, changes the ticket through EscalationDesk, and returns a neutral
DeskOutcome (what to tell the member, whether to refresh the card, a private note for the person
who acted). Slack, Discord and the console only render outcomes; none of them decides anything.
"""

from __future__ import annotations

import json
import logging
import threading
from collections import defaultdict
from typing import TYPE_CHECKING, Any, Literal

from sqlmodel import Session, select

from bot.card import card_view
from bot.desk import DeskError, EscalationDesk
from bot.desk_outcome import DeskOutcome, MemberPost, StaffNotice, member_outcome
from bot.llm.assist import classify_staff_reply, record_assist_use
from bot.models import Feedback, Ticket
from bot.policy import Actor, Policy

if TYPE_CHECKING:  # bot.app builds the desk service
    from bot.app import Deskhand

__all__ = ["DeskOutcome", "DeskService", "MemberPost", "StaffNotice"]
log = logging.getLogger(__name__)
StaffAction = Literal["claim", "resolve", "handback"]
AssistChoice = Literal["send", "ignore"]

HANDED_BACK = "The team handed this conversation back to me. Ask me anything else right here."
RATING_PROMPT = (
    "The team marked this as resolved. How did we do? Pick a rating from 1 (poor) to 5 (great)."
)


def claimed_text(staff_name: str) -> str:
    """What the member is told when a person picks their ticket up."""
    return f"{staff_name or 'Someone'} from the team has picked this up and will reply here."


class DeskService:
    """One staff desk for Slack, Discord and the console."""

    def __init__(self, app: Deskhand) -> None:
        self.app = app  # for the agent-assist bookkeeping (bot.llm.assist)
        self.engine = app.engine
        self.desk: EscalationDesk = app.desk
        self.policy: Policy = app.policy
        self._locks: defaultdict[int, threading.Lock] = defaultdict(threading.Lock)
        self._guard = threading.Lock()

    def _lock(self, ticket_id: int) -> threading.Lock:
        with self._guard:
            return self._locks[ticket_id]

    def _outcome(self, ticket: Ticket, **fields: Any) -> DeskOutcome:
        """An outcome addressed to the ticket's member thread."""
        return member_outcome(ticket, **fields)

    @staticmethod
    def _refused(ticket_id: int, reason: str, **fields: object) -> DeskOutcome:
        return DeskOutcome(ticket_id=ticket_id, ok=False, private_note=reason, **fields)  # type: ignore[arg-type]

    # ---- staff thread ------------------------------------------------------------------------
    def staff_reply(self, actor: Actor, ticket_id: int, text: str) -> DeskOutcome:
        """A message in a ticket's staff thread: relayed when staff wrote it, else ignored.

        A non-staff reply is never relayed, never claims, never becomes a KB candidate; the
        refusal is audited and the writer may be told privately.
        """
        verdict = self.policy.may_speak_for_staff(actor, ticket_id)
        if not verdict:
            return self._refused(ticket_id, verdict.reason, staff_mark="ignored")
        if not text.strip():
            return DeskOutcome(ticket_id=ticket_id)
        try:
            relay = self.desk.staff_message(ticket_id, actor.user_id, actor.display_name, text)
        except DeskError as err:
            return self._refused(ticket_id, str(err))
        ticket = self.desk.get(ticket_id)
        if relay.internal:
            return self._outcome(ticket, staff_mark="note")
        with self._lock(ticket_id):
            try:
                classify_staff_reply(self.app, ticket_id, relay.text)
            except Exception:
                log.exception("ticket %s: could not classify the staff reply", ticket_id)
        post = MemberPost("relay", self.policy.staff_text(relay.text), relay.staff_name)
        return self._outcome(ticket, to_member=[post], refresh_card=True, staff_mark="relayed")

    # ---- card buttons ------------------------------------------------------------------------
    def press(self, actor: Actor, ticket_id: int, action: StaffAction | str) -> DeskOutcome:
        """Claim, resolve or hand back from the card; the member is told on every platform.

        `action` comes raw from a platform button: anything but a StaffAction is refused by the policy.
        """
        verdict = self.policy.may_press(actor, action)
        if not verdict:
            return self._refused(ticket_id, verdict.reason)
        handlers = {
            "claim": self.desk.claim,
            "resolve": self.desk.resolve,
            "handback": self.desk.hand_back,
        }
        if action not in handlers:
            return self._refused(ticket_id, "That button is not one of mine.")
        try:
            ticket = handlers[action](ticket_id, actor.user_id)
        except DeskError as err:
            return self._refused(ticket_id, str(err))
        name = actor.display_name or actor.user_id
        if action == "claim":
            post = MemberPost("claimed", claimed_text(name), name)
            return self._outcome(ticket, to_member=[post], refresh_card=True)
        if action == "handback":
            post = MemberPost("handed_back", HANDED_BACK, name)
            return self._outcome(ticket, to_member=[post], refresh_card=True)
        return self._outcome(ticket, rating_prompt=True, refresh_card=True)

    # ---- drafted replies (agent assist) ------------------------------------------------------
    def assist(self, actor: Actor, ticket_id: int, choice: AssistChoice | str) -> DeskOutcome:
        """Send the drafted reply as is, or ignore it; a draft is used once, whoever comes first."""
        verdict = self.policy.may_press(actor, f"assist_{choice}")
        if not verdict:
            return self._refused(ticket_id, verdict.reason)
        with self._lock(ticket_id):
            try:
                ticket = self.desk.get(ticket_id)
            except DeskError as err:
                return self._refused(ticket_id, str(err))
            extra = json.loads(ticket.extra or "{}")
            done = (extra.get("assist") or {}).get("used")
            if done:
                return self._refused(
                    ticket_id,
                    f"This suggestion was already marked {done}.",
                    buttons_done=f"Already marked {done}.",
                )
            if choice == "ignore":
                record_assist_use(self.app, ticket_id, "ignored", actor.user_id)
                return self._outcome(ticket, buttons_done="ignored")
            text = str((extra.get("suggested_reply") or {}).get("text") or "").strip()
            if not text:
                return self._refused(ticket_id, "There is no suggested reply to send.")
            try:
                relay = self.desk.staff_message(ticket_id, actor.user_id, actor.display_name, text)
            except DeskError as err:
                return self._refused(ticket_id, str(err))
            record_assist_use(self.app, ticket_id, "sent", actor.user_id, text)
        ticket = self.desk.get(ticket_id)
        posts = []
        if not relay.internal:
            safe = self.policy.staff_text(relay.text)
            posts.append(MemberPost("relay", safe, relay.staff_name, drafted=True))
        return self._outcome(ticket, to_member=posts, refresh_card=True, buttons_done="sent")

    def card_view(self, ticket_id: int) -> dict[str, Any]:
        """The ticket as card data (with the member's earlier tickets) for any renderer."""
        return card_view(self.engine, self.desk.get(ticket_id))

    def draft_text(self, ticket_id: int) -> str:
        """The stored drafted reply of a ticket ('' when there is none)."""
        extra = json.loads(self.desk.get(ticket_id).extra or "{}")
        return str((extra.get("suggested_reply") or {}).get("text") or "")

    # ---- member rating -----------------------------------------------------------------------
    def rate(self, actor: Actor, ticket_id: int, rating: int) -> DeskOutcome:
        """The member's 1-5 rating of a resolved ticket, once, and only by the member who asked."""
        try:
            ticket = self.desk.get(ticket_id)
        except DeskError as err:
            return self._refused(ticket_id, str(err))
        owner = str(json.loads(ticket.member or "{}").get("user_id") or "")
        verdict = self.policy.may_press(actor, "rate", owner)
        if not verdict:
            return self._refused(ticket_id, verdict.reason)
        earlier = self.rating_of(ticket_id)
        if earlier is not None:
            return self._refused(
                ticket_id,
                f"You already rated this {earlier}/5.",
                buttons_done=f"Rated {earlier}/5.",
            )
        try:
            self.desk.record_rating(ticket_id, rating, actor.user_id)
        except (DeskError, ValueError) as err:
            return self._refused(ticket_id, str(err))
        return self._outcome(ticket, buttons_done=f"Thanks for rating us {int(rating)}/5.")

    def rating_of(self, ticket_id: int) -> int | None:
        """The member's rating of a ticket, if they gave one."""
        with Session(self.engine) as session:
            stmt = select(Feedback.rating).where(
                Feedback.ticket_id == ticket_id, Feedback.kind == "rating"
            )
            found = session.exec(stmt).first()
        return int(found) if found is not None else None

    # ---- quick checks --------------------------------------------------------------------------
    def refusal(self, actor: Actor, button: str, owner_id: str = "") -> DeskOutcome | None:
        """Refuse a button press up front (audited), or None when it may go ahead.

        Lets adapters answer a refused press at once (Discord's 3 s window) before slow work.
        """
        verdict = self.policy.may_press(actor, button, owner_id)
        return None if verdict else self._refused(0, verdict.reason)
