"""Side effects on Slack that must not be lost: escalation cards, relays and parked retries."""

from __future__ import annotations

import json
import logging
import threading
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.desk import DeskError, ticket_view
from bot.llm.assist import suggest_reply
from bot.slack.render import (
    render_assist_suggestion,
    render_escalation_card,
    render_member_relay,
    render_staff_relay,
    render_transcript,
)

log = logging.getLogger(__name__)
PLATFORM = "slack"
CUSTOMIZE_ERRORS = {"missing_scope", "not_allowed_token_type", "invalid_arg_name"}


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

    def __init__(self, app: Any, client: WebClient) -> None:
        self.app = app
        self.client = client
        self.customize = True  # chat:write.customize: post staff relays under the staff name
        self._names: dict[str, dict[str, Any]] = {}
        self._names_lock = threading.Lock()

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
        self, channel: str, text: str, thread_ts: str = "", blocks: list | None = None
    ) -> bool:
        """Post a message; on a Slack error park it in the outbox instead of losing it."""
        try:
            self.post(channel, text, thread_ts, blocks=blocks)
            return True
        except SlackApiError as err:
            payload = {"channel": channel, "thread_ts": thread_ts, "text": text, "blocks": blocks}
            self.park("post", payload, err)
            return False

    def park(self, kind: str, payload: dict[str, Any], err: SlackApiError | str) -> None:
        """Record a failed side effect for the retry loop, with context in the log."""
        error = api_error(err) if isinstance(err, SlackApiError) else str(err)
        log.warning("slack %s failed (%s); parked for retry: %s", kind, error, payload)
        self.app.outbox.put(PLATFORM, kind, payload, error)

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
    def post_escalation_card(self, ticket_id: int, message_ts: str = "") -> bool:
        """Post the context card and transcript in the staff channel; park it if Slack refuses."""
        try:
            self._post_card(ticket_id, message_ts)
        except DeskError as err:
            log.error("escalation card for missing ticket %s: %s", ticket_id, err)
        except (SlackApiError, RuntimeError) as err:
            self.park("escalation_card", {"ticket_id": ticket_id, "message_ts": message_ts}, err)
            return False
        return True

    def _post_card(self, ticket_id: int, message_ts: str) -> None:
        view = ticket_view(self.app.desk.get(ticket_id))
        if view.get("staff_thread_id"):
            return  # already posted (a retried delivery)
        channel = self.staff_channel(view)
        if not channel:
            raise RuntimeError("no staff channel: set SLACK_ESCALATION_CHANNEL")
        permalink = view.get("permalink") or self.permalink(
            view.get("member_channel_id", ""), message_ts or view.get("member_thread_id", "")
        )
        text, blocks = render_escalation_card(view, permalink)
        posted = self.post(channel, text, blocks=blocks)
        card_channel, card_ts = posted.get("channel") or channel, posted["ts"]
        self.app.desk.attach_staff_thread(ticket_id, card_channel, card_ts)
        transcript = self.app.desk.transcript(ticket_id) or view.get("transcript") or []
        for part in render_transcript(transcript):
            self.post_or_park(card_channel, part, card_ts)
        self.post_assist(ticket_id, card_channel, card_ts)

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

    def refresh_card(self, ticket_id: int, channel: str = "", ts: str = "") -> None:
        """Redraw a ticket's card (status, owner, buttons) after a desk action."""
        view = ticket_view(self.app.desk.get(ticket_id))
        channel = channel or view.get("staff_channel_id", "")
        ts = ts or view.get("staff_thread_id", "")
        if not (channel and ts):
            return
        text, blocks = render_escalation_card(view)
        try:
            self.client.chat_update(channel=channel, ts=ts, text=text, blocks=blocks)
        except SlackApiError as err:
            log.warning("updating card of ticket %s failed: %s", ticket_id, api_error(err))

    def relay_to_staff(self, ticket_id: int, text: str, member_name: str) -> bool:
        """Forward a member's message to the ticket's staff thread (parked until the card exists)."""
        payload = {"ticket_id": ticket_id, "text": text, "member_name": member_name}
        try:
            ticket = self.app.desk.get(ticket_id)
        except DeskError as err:
            log.error("relay to missing ticket %s: %s", ticket_id, err)
            return True
        if not ticket.staff_thread_id:
            self.park("relay_to_staff", payload, "staff card not posted yet")
            return False
        try:
            self.post(
                ticket.staff_channel_id,
                render_member_relay(text, member_name),
                ticket.staff_thread_id,
            )
            return True
        except SlackApiError as err:
            self.park("relay_to_staff", payload, err)
            return False

    def relay_to_member(self, channel: str, thread_ts: str, text: str, staff_name: str) -> bool:
        """Post a staff reply in the member's thread under the staff member's name."""
        payload = {
            "channel": channel,
            "thread_ts": thread_ts,
            "text": text,
            "staff_name": staff_name,
        }
        try:
            self._post_as_staff(channel, thread_ts, text, staff_name)
            return True
        except SlackApiError as err:
            self.park("relay_to_member", payload, err)
            return False

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
            self._post_card(int(payload["ticket_id"]), payload.get("message_ts", ""))
        elif kind == "relay_to_staff":
            ticket = self.app.desk.get(int(payload["ticket_id"]))
            if not ticket.staff_thread_id:
                raise RuntimeError("staff card not posted yet")
            text = render_member_relay(payload["text"], payload.get("member_name", ""))
            self.post(ticket.staff_channel_id, text, ticket.staff_thread_id)
        elif kind == "relay_to_member":
            self._post_as_staff(
                payload["channel"], payload["thread_ts"], payload["text"], payload["staff_name"]
            )
        elif kind == "post":
            self.post(
                payload["channel"],
                payload["text"],
                payload.get("thread_ts") or "",
                blocks=payload.get("blocks"),
            )
        else:
            log.error("unknown slack outbox kind %r; dropping %s", kind, payload)


def deliver_pending(app: Any, client: WebClient, delivery: SlackDelivery | None = None) -> dict:
    """Re-deliver every due Slack outbox item once; returns counts of delivered and failed."""
    delivery = delivery or SlackDelivery(app, client)
    counts = {"delivered": 0, "failed": 0}
    for item in app.outbox.due(PLATFORM):
        try:
            delivery.deliver_item(item.kind, json.loads(item.payload))
        except SlackApiError as err:
            log.warning("outbox item %s (%s) still failing: %s", item.id, item.kind, api_error(err))
            app.outbox.failed(item.id, api_error(err), retry_after(err))
            counts["failed"] += 1
            continue
        except (DeskError, RuntimeError, KeyError, ValueError) as err:
            log.warning("outbox item %s (%s) not deliverable yet: %s", item.id, item.kind, err)
            app.outbox.failed(item.id, str(err))
            counts["failed"] += 1
            continue
        app.outbox.done(item.id)
        counts["delivered"] += 1
    return counts
