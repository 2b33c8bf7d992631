"""Side effects on Slack that must not be lost: escalation cards, relays and parked retries."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.desk import DeskError
from bot.desk_outcome import OUTCOME_KIND, DeskOutcome
from bot.escalation import (
    card_goes_first,
    card_metadata,
    is_staff_channel,
    member_notice,
    ticket_of_metadata,
)
from bot.llm.assist import suggest_reply
from bot.outbox import ALERT_KIND, LEASE_S, WAITING, staff_key
from bot.slack.render import (
    render_assist_suggestion,
    render_escalation_card,
    render_member_relay,
    render_rating_prompt,
    render_staff_relay,
    render_transcript,
)
from bot.slack.text import escape, safe_mrkdwn
from bot.slack.workers import KeyedLocks

if TYPE_CHECKING:  # adapters receive the running app
    from bot.app import Deskhand

log = logging.getLogger(__name__)
PLATFORM = "slack"
CUSTOMIZE_ERRORS = {"missing_scope", "not_allowed_token_type", "invalid_arg_name"}
UNMAPPED_NOTE = (
    ":warning: I can't match this thread to a ticket, so this reply was *not* relayed to anyone."
    " Reply in the ticket's card thread instead (`/deskhand outbox` lists anything stuck)."
)


def thread_key(channel: str, thread_ts: str) -> str:
    """The ordering key of one Slack thread (or a channel's top level)."""
    return f"{channel}:{thread_ts}" if channel else ""


def api_error(err: SlackApiError) -> str:
    """The short Slack error code of a failed call ('ratelimited', 'channel_not_found', ...)."""
    try:
        return str(err.response.get("error") or err.response.status_code)
    except Exception:
        return str(err)


def retry_after(err: SlackApiError) -> float | None:
    """Seconds Slack asked us to wait (Retry-After on 429), if it said."""
    try:
        headers = {k.lower(): v for k, v in (err.response.headers or {}).items()}
        value = headers.get("retry-after")
        if isinstance(value, list):
            value = value[0]
        return float(value) if value is not None else None
    except Exception:
        return None


class SlackDelivery:
    """Posts to Slack; whatever fails and matters is parked in the outbox and retried."""

    def __init__(self, app: Deskhand, client: WebClient) -> None:
        self.app = app
        self.client = client
        self.customize = True  # chat:write.customize: post staff relays under the staff name
        self._names: dict[str, dict[str, Any]] = {}
        self._names_lock = threading.Lock()
        self.thread_locks = KeyedLocks()

    # ---- lookups ---------------------------------------------------------------------------
    def user_info(self, user_id: str) -> dict[str, Any]:
        """Display name and admin flags for a user, cached (users.info)."""
        with self._names_lock:
            if user_id in self._names:
                return self._names[user_id]
        info: dict[str, Any] = {"name": user_id, "is_admin": False}
        try:
            user = self.client.users_info(user=user_id)["user"] or {}
            profile = user.get("profile") or {}
            info = {
                "name": profile.get("display_name")
                or profile.get("real_name")
                or user.get("real_name")
                or user.get("name")
                or user_id,
                "is_admin": bool(user.get("is_admin") or user.get("is_owner")),
            }
        except SlackApiError as err:
            log.warning("users.info failed for %s: %s", user_id, api_error(err))
            return info  # not cached: try again next time
        with self._names_lock:
            self._names[user_id] = info
        return info

    def user_name(self, user_id: str) -> str:
        """A person's display name, or their id if Slack will not say."""
        return str(self.user_info(user_id)["name"])

    def permalink(self, channel: str, ts: str) -> str:
        """A link to a message, or '' if Slack cannot make one."""
        if not (channel and ts):
            return ""
        try:
            return str(self.client.chat_getPermalink(channel=channel, message_ts=ts)["permalink"])
        except SlackApiError as err:
            log.warning("chat.getPermalink failed for %s/%s: %s", channel, ts, api_error(err))
            return ""

    def staff_channel(self, view: dict[str, Any]) -> str:
        """The routed staff channel of a ticket, else SLACK_ESCALATION_CHANNEL."""
        return view.get("staff_channel_id") or self.app.config.slack_escalation_channel or ""

    # ---- posting ---------------------------------------------------------------------------
    def post(self, channel: str, text: str, thread_ts: str = "", **kwargs: Any) -> dict[str, Any]:
        """chat.postMessage (raises SlackApiError); links are never unfurled."""
        args: dict[str, Any] = {"channel": channel, "text": text, "unfurl_links": False}
        if thread_ts:
            args["thread_ts"] = thread_ts
        args.update({k: v for k, v in kwargs.items() if v is not None})
        return self.client.chat_postMessage(**args).data  # type: ignore[return-value]

    def post_or_park(
        self,
        channel: str,
        text: str,
        thread_ts: str = "",
        blocks: list | None = None,
        kind: str = "post",
    ) -> bool:
        """Post a message in thread order; if Slack refuses (or the thread is waiting), park it."""
        payload = {"channel": channel, "thread_ts": thread_ts, "text": text, "blocks": blocks}
        key = thread_key(channel, thread_ts)
        with self.thread_locks.get(key):
            if self.app.outbox.blocked(PLATFORM, key):
                self.app.outbox.put(PLATFORM, kind, payload, WAITING, thread_key=key)
                return False
            try:
                self.post(channel, text, thread_ts, blocks=blocks)
                return True
            except SlackApiError as err:
                self.park(kind, payload, err, key)
                return False

    def send_recorded(
        self, kind: str, payload: dict[str, Any], key: str, send: Callable[[], Any]
    ) -> bool:
        """Write the side effect to the outbox first, then send it: a crash cannot lose it."""
        outbox = self.app.outbox
        with self.thread_locks.get(key):
            if outbox.blocked(PLATFORM, key):
                outbox.put(PLATFORM, kind, payload, WAITING, thread_key=key)
                return False
            item_id = outbox.record(PLATFORM, kind, payload, thread_key=key, lease_s=LEASE_S)
            try:
                send()
            except (SlackApiError, RuntimeError) as err:
                error = api_error(err) if isinstance(err, SlackApiError) else str(err)
                log.warning("slack %s failed (%s); parked as outbox item %s", kind, error, item_id)
                wait = retry_after(err) if isinstance(err, SlackApiError) else None
                outbox.failed(item_id, error, wait or 0.0)  # first retry: next loop pass
                return False
            outbox.done(item_id)
            return True

    def park(
        self, kind: str, payload: dict[str, Any], err: SlackApiError | str, key: str = ""
    ) -> None:
        """Record a failed side effect for the retry loop, with context in the log."""
        error = api_error(err) if isinstance(err, SlackApiError) else str(err)
        log.warning("slack %s failed (%s); parked for retry: %s", kind, error, payload)
        self.app.outbox.put(PLATFORM, kind, payload, error, thread_key=key)

    def react(self, channel: str, ts: str, name: str, remove: bool = False) -> None:
        """Add (or remove) a reaction; cosmetic, so failures are only logged."""
        try:
            method = self.client.reactions_remove if remove else self.client.reactions_add
            method(channel=channel, timestamp=ts, name=name)
        except SlackApiError as err:
            if api_error(err) not in ("already_reacted", "no_reaction"):
                log.info("reaction %s on %s/%s failed: %s", name, channel, ts, api_error(err))

    def ephemeral(
        self, channel: str, user: str, text: str, thread_ts: str = "", blocks: list | None = None
    ) -> None:
        """A message only `user` sees; falls back to a DM if the channel refuses."""
        try:
            args: dict[str, Any] = {"channel": channel, "user": user, "text": text}
            if thread_ts:
                args["thread_ts"] = thread_ts
            if blocks:
                args["blocks"] = blocks
            self.client.chat_postEphemeral(**args)
        except SlackApiError as err:
            log.warning("chat.postEphemeral to %s failed: %s", channel, api_error(err))
            try:
                self.client.chat_postMessage(channel=user, text=text, blocks=blocks)
            except SlackApiError as dm_err:
                log.warning("DM to %s failed too: %s", user, api_error(dm_err))

    # ---- escalation ------------------------------------------------------------------------
    def escalate(self, ticket_id: int, notice: str, message_ts: str = "") -> bool:
        """Card posted → card recorded → transcript → member told; what fails waits in the outbox."""
        payload = {"ticket_id": ticket_id, "message_ts": message_ts}
        try:
            ok = self.send_recorded(
                "escalation_card",
                payload,
                staff_key(ticket_id),
                lambda: self.advance_escalation(ticket_id, message_ts),
            )
        except DeskError as err:
            log.error("escalation card for missing ticket %s: %s", ticket_id, err)
            return False
        self.tell_member(ticket_id, notice)
        return ok

    def post_escalation_card(self, ticket_id: int, message_ts: str = "") -> bool:
        """Post the context card (and transcript) now, or park it; the member is told elsewhere."""
        try:
            return self.send_recorded(
                "escalation_card",
                {"ticket_id": ticket_id, "message_ts": message_ts},
                staff_key(ticket_id),
                lambda: self.advance_escalation(ticket_id, message_ts),
            )
        except DeskError as err:
            log.error("escalation card for missing ticket %s: %s", ticket_id, err)
            return False

    def advance_escalation(self, ticket_id: int, message_ts: str = "") -> None:
        """Do the card steps not yet recorded (raises SlackApiError/RuntimeError to retry)."""
        steps = self.app.escalations.steps(ticket_id)
        view = self.app.desk_service.card_view(ticket_id)
        card_channel, card_ts = view.get("staff_channel_id", ""), view.get("staff_thread_id", "")
        if not card_ts:
            card_channel, card_ts = self._post_card(ticket_id, view, message_ts, steps)
        if "transcript_posted" not in steps:
            transcript = self.app.desk.transcript(ticket_id) or view.get("transcript") or []
            for part in render_transcript(transcript):
                self.post_or_park(card_channel, part, card_ts)
            self.post_assist(ticket_id, card_channel, card_ts)
            self.app.escalations.record(ticket_id, "transcript_posted", PLATFORM)

    def _post_card(
        self, ticket_id: int, view: dict[str, Any], message_ts: str, steps: dict[str, Any]
    ) -> tuple[str, str]:
        channel = self.staff_channel(view)
        if not channel:
            raise RuntimeError("no staff channel: set SLACK_ESCALATION_CHANNEL")
        found = self.find_card(channel, ticket_id) if "card_intent" in steps else ""
        if found:
            log.warning(
                "ticket %s: card found in %s at %s; recording it", ticket_id, channel, found
            )
            card_channel, card_ts = channel, found
        else:
            self.app.escalations.record(ticket_id, "card_intent", PLATFORM, channel=channel)
            permalink = view.get("permalink") or self.permalink(
                view.get("member_channel_id", ""), message_ts or view.get("member_thread_id", "")
            )
            text, blocks = render_escalation_card(view, permalink)
            posted = self.post(channel, text, blocks=blocks, metadata=card_metadata(ticket_id))
            card_channel, card_ts = posted.get("channel") or channel, posted["ts"]
        self.app.desk.attach_staff_thread(ticket_id, card_channel, card_ts)
        self.app.escalations.record(
            ticket_id, "card_recorded", PLATFORM, channel=card_channel, ts=card_ts
        )
        return card_channel, card_ts

    def find_card(self, channel: str, ticket_id: int) -> str:
        """The ts of a card Slack already accepted for this ticket (by its marker), or ''."""
        try:
            history = self.client.conversations_history(
                channel=channel, limit=200, include_all_metadata=True
            )
        except SlackApiError as err:
            log.warning("conversations.history on %s failed: %s", channel, api_error(err))
            return ""
        for message in history.get("messages") or []:
            if ticket_of_metadata(message.get("metadata")) == ticket_id:
                return str(message.get("ts") or "")
        return ""

    def tell_member(self, ticket_id: int, notice: str | None = None) -> None:
        """Post the hand-over notice in the member's thread once (parked if Slack refuses)."""
        if "member_told" in self.app.escalations.steps(ticket_id):
            return
        ticket = self.app.desk.get(ticket_id)
        text = notice if notice is not None else member_notice(self.app.engine, ticket)
        if text:
            self.post_or_park(ticket.member_channel_id, escape(text), ticket.member_thread_id)
        self.app.escalations.record(ticket_id, "member_told", PLATFORM)

    def unmapped_staff_thread(self, channel: str, thread_ts: str) -> int | None:
        """A reply in a staff-channel thread with no ticket: recover the card, else tell staff.

        Returns the ticket to relay to (a card Slack accepted but the bot never recorded), 0 when
        staff were told the reply went nowhere, None when the thread is not the bot's at all.
        """
        if not is_staff_channel(self.app, PLATFORM, channel):
            return None
        parent = self.thread_parent(channel, thread_ts)
        if parent is None:
            return None
        ticket_id = ticket_of_metadata(parent.get("metadata"))
        if ticket_id:
            try:
                ticket = self.app.desk.get(ticket_id)
            except DeskError:
                ticket = None
            moved = ticket is not None and ticket.staff_channel_id not in ("", channel)
            if ticket is not None and not ticket.staff_thread_id and not moved:
                self.app.desk.attach_staff_thread(ticket_id, channel, thread_ts)
                self.app.escalations.record(
                    ticket_id, "card_recorded", PLATFORM, channel=channel, ts=thread_ts
                )
                log.warning(
                    "ticket %s: card thread %s recovered from its marker", ticket_id, thread_ts
                )
                return ticket_id
        if not (parent.get("bot_id") or parent.get("user") == getattr(self, "bot_user_id", "")):
            return None
        self.post_or_park(channel, UNMAPPED_NOTE, thread_ts)
        return 0

    def thread_parent(self, channel: str, thread_ts: str) -> dict[str, Any] | None:
        """The message that starts a thread (with its metadata), or None if Slack will not say."""
        try:
            found = self.client.conversations_history(
                channel=channel,
                latest=thread_ts,
                inclusive=True,
                limit=1,
                include_all_metadata=True,
            )
        except SlackApiError as err:
            log.warning("conversations.history on %s failed: %s", channel, api_error(err))
            return None
        messages = found.get("messages") or []
        return messages[0] if messages and messages[0].get("ts") == thread_ts else None

    def post_assist(self, ticket_id: int, channel: str, thread_ts: str) -> bool:
        """Post agent assist's drafted reply in the card thread; never fails the card itself."""
        try:
            suggestion = suggest_reply(self.app, ticket_id)
        except Exception:
            log.exception("agent assist failed for ticket %s; card posted without it", ticket_id)
            return False
        if not (suggestion.get("text") or "").strip():
            log.info("no assist draft for ticket %s (%s)", ticket_id, suggestion.get("note", ""))
            return False
        try:
            text, blocks = render_assist_suggestion(ticket_id, suggestion)
            return self.post_or_park(channel, text, thread_ts, blocks)
        except Exception:
            log.exception("posting the assist draft for ticket %s failed", ticket_id)
            return False

    def update_card(self, ticket_id: int) -> None:
        """Redraw a ticket's card (status, owner, buttons); raises SlackApiError to retry."""
        view = self.app.desk_service.card_view(ticket_id)
        channel, ts = view.get("staff_channel_id", ""), view.get("staff_thread_id", "")
        if channel and ts:
            text, blocks = render_escalation_card(view)
            self.client.chat_update(channel=channel, ts=ts, text=text, blocks=blocks)

    # ---- desk outcomes -----------------------------------------------------------------------
    def send_outcome(self, outcome: DeskOutcome) -> None:
        """Deliver a desk outcome's parts now, each written to the outbox before it is sent."""
        for part in outcome.parts(PLATFORM):
            self.send_recorded(
                part.kind,
                part.payload,
                part.thread_key,
                lambda part=part: self.deliver_item(part.kind, part.payload),  # type: ignore[misc]
            )

    def deliver_outcome(self, outcome: DeskOutcome) -> None:
        """Post one outcome part: staff notices, the member's posts and rating prompt, the card."""
        for notice in outcome.staff_notices:
            self.post(notice.channel, escape(notice.text), notice.thread)
        where = (outcome.member_channel_id, outcome.member_thread_id)
        for post in outcome.to_member:
            if post.kind == "relay":
                shown = safe_mrkdwn(post.text) if post.drafted else escape(post.text)
                self._post_as_staff(*where, shown, post.staff_name)
            else:
                self.post(where[0], escape(post.text), where[1])
        if outcome.rating_prompt:
            text, blocks = render_rating_prompt(outcome.ticket_id)
            self.post(where[0], text, where[1], blocks=blocks)
        if outcome.refresh_card:
            self.update_card(outcome.ticket_id)

    def relay_to_staff(self, ticket_id: int, text: str, member_name: str) -> bool:
        """Forward a member's message to the ticket's staff thread (queued behind the card)."""
        payload = {"ticket_id": ticket_id, "text": text, "member_name": member_name}
        try:
            self.app.desk.get(ticket_id)
        except DeskError as err:
            log.error("relay to missing ticket %s: %s", ticket_id, err)
            return True
        return self.send_recorded(
            "relay_to_staff",
            payload,
            staff_key(ticket_id),
            lambda: self.deliver_item("relay_to_staff", payload),
        )

    def relay_to_member(self, channel: str, thread_ts: str, text: str, staff_name: str) -> bool:
        """Post a staff reply in the member's thread under the staff member's name, in order."""
        payload = {
            "channel": channel,
            "thread_ts": thread_ts,
            "text": text,
            "staff_name": staff_name,
        }
        return self.send_recorded(
            "relay_to_member",
            payload,
            thread_key(channel, thread_ts),
            lambda: self._post_as_staff(channel, thread_ts, text, staff_name),
        )

    def _post_as_staff(self, channel: str, thread_ts: str, text: str, staff_name: str) -> None:
        if self.customize:
            try:
                self.post(
                    channel, thread_ts=thread_ts, **render_staff_relay(text, staff_name, True)
                )
                return
            except SlackApiError as err:
                if api_error(err) not in CUSTOMIZE_ERRORS:
                    raise
                log.warning("chat:write.customize unavailable; prefixing staff names instead")
                self.customize = False
        self.post(channel, thread_ts=thread_ts, **render_staff_relay(text, staff_name, False))

    # ---- the retry loop --------------------------------------------------------------------
    def deliver_item(self, kind: str, payload: dict[str, Any]) -> None:
        """Try one parked side effect again; raises SlackApiError if Slack still refuses."""
        if kind == "escalation_card":
            ticket_id = int(payload["ticket_id"])
            try:
                self.advance_escalation(ticket_id, payload.get("message_ts", ""))
            finally:
                self.tell_member(ticket_id)  # a repaired escalation still owes the notice
        elif kind == "relay_to_staff":
            ticket = self.app.desk.get(int(payload["ticket_id"]))
            if card_goes_first(ticket):  # a relay that overtook its card brings it up first
                self.advance_escalation(ticket.id or 0)
                ticket = self.app.desk.get(ticket.id or 0)
            if not ticket.staff_thread_id:
                raise RuntimeError("staff card not posted yet")
            text = render_member_relay(payload["text"], payload.get("member_name", ""))
            self.post(ticket.staff_channel_id, text, ticket.staff_thread_id)
        elif kind == "relay_to_member":
            self._post_as_staff(
                payload["channel"], payload["thread_ts"], payload["text"], payload["staff_name"]
            )
        elif kind == ALERT_KIND:
            channel = self.app.config.slack_escalation_channel
            if not channel:
                raise RuntimeError("no staff channel for alerts: set SLACK_ESCALATION_CHANNEL")
            self.post(channel, payload["text"])
        elif kind == OUTCOME_KIND:
            self.deliver_outcome(DeskOutcome.from_dict(payload))
        elif kind == "post":
            self.post(
                payload["channel"],
                payload["text"],
                payload.get("thread_ts") or "",
                blocks=payload.get("blocks"),
            )
        else:
            log.error("unknown slack outbox kind %r; dropping %s", kind, payload)


def deliver_pending(
    app: Deskhand, client: WebClient, delivery: SlackDelivery | None = None, max_rounds: int = 50
) -> dict:
    """Re-deliver due Slack outbox items, thread heads first, until a round makes no progress."""
    delivery = delivery or SlackDelivery(app, client)
    counts = {"delivered": 0, "failed": 0, "dead": 0}
    for _ in range(max_rounds):
        items = app.outbox.due(PLATFORM)
        if not items:
            break
        progress = 0
        for item in items:
            if deliver_one(app, delivery, item, counts):
                progress += 1
        if not progress:
            break
    return counts


def deliver_one(app: Deskhand, delivery: SlackDelivery, item: Any, counts: dict) -> bool:
    """Send one claimed item; True when it was delivered."""
    try:
        delivery.deliver_item(item.kind, json.loads(item.payload))
    except SlackApiError as err:
        log.warning("outbox item %s (%s) still failing: %s", item.id, item.kind, api_error(err))
        counts["dead"] += app.outbox.failed(item.id, api_error(err), retry_after(err))
        counts["failed"] += 1
        return False
    except (DeskError, RuntimeError, KeyError, ValueError) as err:
        log.warning("outbox item %s (%s) not deliverable yet: %s", item.id, item.kind, err)
        counts["dead"] += app.outbox.failed(item.id, str(err))
        counts["failed"] += 1
        return False
    app.outbox.done(item.id)
    counts["delivered"] += 1
    return True
