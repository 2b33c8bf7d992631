"""Slack events and buttons in, SupportService and EscalationDesk calls out, Block Kit back."""

from __future__ import annotations

import json
import logging
from typing import TYPE_CHECKING, Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.contracts import IncomingMessage, Member, Reply
from bot.desk_service import DeskOutcome
from bot.inbox import Inbox, InboxEvent, InboxWorker, reply_to_dict
from bot.policy import Actor, CachedGroups
from bot.slack.delivery import SlackDelivery, api_error, deliver_pending
from bot.slack.render import (
    ASSIST_ACTIONS,
    COMMAND_ACTION,
    MEMBER_ACTIONS,
    STAFF_ACTIONS,
    parse_action_id,
    parse_member_value,
    render_reply,
    render_shadow,
    strip_actions,
)
from bot.slack.text import escape, mentions, safe_mrkdwn, to_plain
from bot.slack.workers import KeyedLocks

if TYPE_CHECKING:  # adapters receive the running app
    from bot.app import Deskhand

log = logging.getLogger(__name__)
PLATFORM = "slack"
ALLOWED_SUBTYPES = (None, "file_share", "thread_broadcast")
WORKING_REACTION = "eyes"
BUTTON_NOTES = {  # what replaces used desk buttons, by DeskOutcome.buttons_done
    "sent": ":outbox_tray: Sent as is by <@{user}>",
    "ignored": ":no_entry_sign: Ignored by <@{user}>",
}
RATED_NOTE = ":star: {text}"
ACTION_NOTES = {
    "helpful": ":thumbsup: Marked helpful by <@{user}>",
    "not_helpful": ":thumbsdown: Marked not helpful by <@{user}>",
    "human": ":bust_in_silhouette: <@{user}> asked for a person",
    "option": ":point_right: <@{user}> picked *{label}*",
}


class SlackAdapter(SlackDelivery):
    """Translates Slack payloads for the core; listeners only store events, `worker` does the rest."""

    def __init__(self, app: Deskhand, client: WebClient, workers: int = 4) -> None:
        super().__init__(app, client)
        self.inbox = Inbox(app.engine)
        self.worker = InboxWorker(self.inbox, PLATFORM, self.process, workers=workers)
        self.locks = KeyedLocks()
        self.bot_user_id = ""
        app.policy.use_directory(PLATFORM, CachedGroups(self.usergroup_members))

    def usergroup_members(self, group_id: str) -> list[str]:
        """Slack user group members (usergroups.users.list), so group grants match people."""
        return list(self.client.usergroups_users_list(usergroup=group_id).get("users") or [])

    def wait_idle(self, timeout: float = 60.0) -> bool:
        """Wait until every acked event has been fully handled (tests, benchmarks)."""
        return self.worker.wait_idle(timeout)

    def stop(self, timeout: float = 10.0) -> int:
        """Stop taking inbox work; what is unfinished after `timeout` is left for the next start."""
        return self.worker.stop(timeout)

    # ---- the inbox: accept (before the ack) and process (after) ------------------------------
    def accept(self, kind: str, key: str, payload: dict[str, Any], lane: str = "") -> bool:
        """Store one event durably before Slack gets its ack; a repeat (retry) is a no-op.

        A database error propagates, so Bolt answers 500 and Slack retries the event later.
        """
        if not self.worker.running:
            self.worker.start()
        fresh = self.inbox.put(PLATFORM, key, kind, payload, lane)
        if fresh:
            self.worker.notify()
        else:
            log.debug("duplicate slack delivery %s ignored", key)
        return fresh

    def process(self, item: InboxEvent) -> None:
        """Do the work of one stored event (called by the inbox worker, maybe after a restart)."""
        data = json.loads(item.payload)
        if item.kind == "message":
            self.bot_user_id = self.bot_user_id or data.get("bot_user_id", "")
            self.handle_message(data["event"], data.get("mention", False), item)
        elif item.kind == "action":
            self.on_action(data["body"], data["action"])
        elif item.kind == "command":
            from slack_bolt import Respond

            from bot.slack.commands import run_slash_command

            command = data["command"]
            respond = Respond(response_url=command.get("response_url"))
            run_slash_command(self, command, respond)
        elif item.kind == "form":
            from bot.slack.commands import submit_form

            submit_form(self, data["body"], data["view"])
        else:
            log.error("unknown slack inbox kind %r; dropped", item.kind)

    # ---- channel policy (decided by bot.policy) ---------------------------------------------
    def actor(self, user_id: str, channel: str = "") -> Actor:
        """The policy's view of a Slack user acting in `channel`."""
        in_staff = bool(channel) and self.app.policy.is_staff_channel(PLATFORM, channel)
        return Actor(PLATFORM, user_id, self.user_name(user_id), in_staff_channel=in_staff)

    # ---- events ------------------------------------------------------------------------------
    def on_message_event(self, event: dict, body: dict, context: Any, mention: bool) -> None:
        """Filter an app_mention/message event and store it; one message is one inbox event."""
        self.bot_user_id = self.bot_user_id or (context.get("bot_user_id") or "")
        if event.get("subtype") not in ALLOWED_SUBTYPES or "edited" in event:
            return
        user = event.get("user") or ""
        if not user or event.get("bot_id") or user == self.bot_user_id:
            return
        channel, ts = event.get("channel") or "", event.get("ts") or ""
        if not (channel and ts):
            return
        lane = f"{channel}:{event.get('thread_ts') or ts}"
        payload = {"event": event, "mention": mention, "bot_user_id": self.bot_user_id}
        self.accept("message", f"msg:{channel}:{ts}", payload, lane)

    def handle_message(self, event: dict, mention: bool = False, item: Any = None) -> None:
        """Route one member message: staff thread relay, or the support service."""
        channel, ts, user = event["channel"], event["ts"], event["user"]
        thread_ts = event.get("thread_ts") or ""
        raw = event.get("text") or ""
        if thread_ts and thread_ts != ts:
            ticket = self.app.desk.find_by_staff_thread(PLATFORM, channel, thread_ts)
            ticket_id = ticket.id if ticket is not None else None
            if ticket_id is None:
                ticket_id = self.unmapped_staff_thread(channel, thread_ts)
            if ticket_id == 0:
                return  # staff were told this reply went nowhere
            if ticket_id is not None:
                self.handle_staff_message(ticket_id, event)
                return
        root = thread_ts or ts
        key = f"{PLATFORM}:{channel}:{root}"
        mentioned = mention or mentions(raw, self.bot_user_id)
        wanted = self.app.service.threads.answers(
            PLATFORM,
            channel,
            user,
            mentioned=mentioned,
            thread_key=key if thread_ts else "",
            channel_type=event.get("channel_type", ""),
        )
        if not wanted:
            return
        with self.locks.get(key):
            if self.app.service.threads.recorded(PLATFORM, ts, channel):
                self._resume(item, channel, ts, root, user, mentioned)
                return
            text = to_plain(raw, self.bot_user_id)
            self._answer(event, channel, ts, root, user, text, mentioned, item)

    def _resume(
        self, item: Any, channel: str, ts: str, root: str, user: str, mentioned: bool
    ) -> None:
        """A message recorded by an attempt that died before delivering: deliver its reply once."""
        key = f"{PLATFORM}:{channel}:{root}"
        if item is None or item.attempts <= 1:
            log.info("slack message %s/%s already handled; not answering again", channel, ts)
            return
        reply = self.app.service.threads.resume(item, key, ts)
        if reply is None:
            log.warning("no recorded reply for %s/%s; nothing to resume", channel, ts)
            return
        msg = IncomingMessage(
            PLATFORM, channel, root, ts, "", Member(user, self.user_name(user)), mentioned=mentioned
        )
        log.info("resuming delivery of the reply to %s/%s", channel, ts)
        self.deliver(reply, msg)

    def _answer(
        self,
        event: dict,
        channel: str,
        ts: str,
        root: str,
        user: str,
        text: str,
        mentioned: bool,
        item: Any = None,
    ) -> None:
        shadow = bool(self.app.settings.channel(PLATFORM, channel).get("shadow"))
        if not text and not event.get("files"):
            if not shadow:
                self.post_or_park(channel, "Hi! Ask me a question and I'll answer here.", root)
            return
        if not shadow:
            self.react(channel, ts, WORKING_REACTION)
        msg = IncomingMessage(
            platform=PLATFORM,
            channel_id=channel,
            thread_id=root,
            message_id=ts,
            text=text,
            member=Member(user, self.user_name(user)),
            mentioned=mentioned,
        )
        try:
            reply = self.app.service.handle(msg)
            if item is not None and item.id:
                self.inbox.save_result(item.id, reply_to_dict(reply))
            self.deliver(reply, msg)
        finally:
            if not shadow:
                self.react(channel, ts, WORKING_REACTION, remove=True)

    def deliver(self, reply: Reply, msg: IncomingMessage) -> None:
        """Perform what a Reply asks for: answer in thread, escalate, relay, or show staff."""
        if reply.private_notice:  # Slack bots cannot delete members' messages: warn privately
            self.ephemeral(msg.channel_id, msg.member.user_id, reply.private_notice, msg.thread_id)
        if reply.route == "ignore":
            return
        if reply.route == "relay":
            if reply.ticket_id:
                self.relay_to_staff(reply.ticket_id, reply.relay_text, msg.member.display_name)
            if reply.deliver_now:  # a reopen: the member's notice and the card redraw
                deliver_pending(self.app, self.client, self)
            return
        if reply.shadow:
            channel = self.app.config.slack_escalation_channel
            if channel:
                text, blocks = render_shadow(reply, msg.channel_id, msg.member.display_name)
                self.post_or_park(channel, text, blocks=blocks)
            return
        if reply.route == "escalate":
            if reply.ticket_id:
                self.escalate(reply.ticket_id, reply.text, msg.message_id)
            else:
                self.post_or_park(msg.channel_id, escape(reply.text), msg.thread_id)
            return
        text, blocks = render_reply(reply, msg.conversation_key)
        self.post_or_park(msg.channel_id, text, msg.thread_id, blocks)

    def handle_staff_message(self, ticket_id: int, event: dict) -> None:
        """A reply in a card's thread: the desk decides; staff replies reach the member."""
        user, channel = event["user"], event["channel"]
        text = to_plain(event.get("text") or "")
        outcome = self.app.desk_service.staff_reply(self.actor(user, channel), ticket_id, text)
        self.render_outcome(outcome, user, channel, event.get("thread_ts") or "", event["ts"])

    def render_outcome(
        self,
        outcome: DeskOutcome,
        user: str,
        channel: str,
        thread_ts: str = "",
        message_ts: str = "",
        body: dict | None = None,
        done_note: str = ":information_source: {text}",
    ) -> None:
        """Perform a desk outcome on Slack: the actor's note and marks now, the rest recorded first."""
        if outcome.private_note:
            self.ephemeral(channel, user, escape(outcome.private_note), thread_ts)
        if outcome.staff_mark == "note" and message_ts:
            self.react(channel, message_ts, "lock")
        relayed = False
        for post in outcome.to_member:
            if post.kind == "relay":
                shown = safe_mrkdwn(post.text) if post.drafted else escape(post.text)
                where = (outcome.member_channel_id, outcome.member_thread_id)
                relayed = self.relay_to_member(*where, shown, post.staff_name)
        if relayed and outcome.staff_mark == "relayed" and message_ts:
            self.react(channel, message_ts, "outbox_tray")
        self.send_outcome(outcome)  # notices, rating prompt, card: the same path as the outbox's
        if outcome.buttons_done and body is not None:
            note = BUTTON_NOTES.get(outcome.buttons_done, done_note)
            self._mark_used(
                body, channel, message_ts, note.format(user=user, text=escape(outcome.buttons_done))
            )

    # ---- buttons -----------------------------------------------------------------------------
    def on_action(self, body: dict, action: dict) -> None:
        """Dispatch a Deskhand button press (already acked) by its action name."""
        name = parse_action_id(action.get("action_id", ""))
        if name in MEMBER_ACTIONS:
            self.member_action(body, action, name)
        elif name in STAFF_ACTIONS:
            self.staff_action(body, action, name)
        elif name in ASSIST_ACTIONS:
            self.assist_action(body, action, name)
        elif name == "rate":
            self.rate_action(body, action)
        elif name == COMMAND_ACTION:
            from bot.slack.commands import press_button

            press_button(self, body, action)
        else:
            log.debug("ignoring unknown deskhand action %s", action.get("action_id"))

    @staticmethod
    def _where(body: dict) -> tuple[str, str, str, str]:
        user = (body.get("user") or {}).get("id", "")
        message = body.get("message") or {}
        container = body.get("container") or {}
        channel = (body.get("channel") or {}).get("id") or container.get("channel_id", "")
        ts = message.get("ts") or container.get("message_ts", "")
        thread = message.get("thread_ts") or ts
        return user, channel, ts, thread

    def _mark_used(self, body: dict, channel: str, ts: str, note: str) -> None:
        message = body.get("message") or {}
        if not (channel and ts and message.get("blocks")):
            return
        try:
            blocks = strip_actions(message["blocks"], note)
            self.client.chat_update(
                channel=channel, ts=ts, text=message.get("text") or note, blocks=blocks
            )
        except SlackApiError as err:
            log.warning("could not update message %s/%s: %s", channel, ts, api_error(err))

    def member_action(self, body: dict, action: dict, name: str) -> None:
        """Helpful / Not helpful / Talk to a person / a clarifying option."""
        user, channel, ts, _ = self._where(body)
        key, value = parse_member_value(action.get("value", ""))
        check = self.app.service.threads.may_press(self.actor(user, channel), name, key=key)
        conv = check.thread
        if conv is None:
            self.ephemeral(channel, user, "That conversation has expired. Please ask again.")
            return
        if check.refusal:
            self.ephemeral(channel, user, escape(check.refusal), conv.thread_id)
            return
        label = ((action.get("text") or {}).get("text")) or value
        with self.locks.get(key):
            member = Member(user, self.user_name(user))
            reply = self.app.service.handle_action(key, name, value, member, PLATFORM)
            if reply.route != "notice" or name == "helpful":
                note = ACTION_NOTES[name].format(user=user, label=escape(label))
                self._mark_used(body, channel, ts, note)
            if reply.route == "notice":
                self.ephemeral(conv.channel_id, user, escape(reply.text), conv.thread_id)
                return
            msg = IncomingMessage(
                PLATFORM, conv.channel_id, conv.thread_id, "", "", member, mentioned=True
            )
            self.deliver(reply, msg)

    def _ticket_of(self, action: dict, user: str, channel: str) -> int | None:
        """The ticket id a staff button carries, or None after telling the user privately."""
        try:
            return int((action.get("value") or "0").partition(":")[0])
        except ValueError:
            self.ephemeral(channel, user, "That button is not linked to a ticket.")
            return None

    def staff_action(self, body: dict, action: dict, name: str) -> None:
        """Claim / Resolve / Hand back on an escalation card."""
        user, channel, ts, _ = self._where(body)
        ticket_id = self._ticket_of(action, user, channel)
        if ticket_id is None:
            return
        outcome = self.app.desk_service.press(self.actor(user, channel), ticket_id, name)
        self.render_outcome(outcome, user, channel, message_ts=ts)

    def assist_action(self, body: dict, action: dict, name: str) -> None:
        """Send as is / Ignore on an agent-assist suggestion in the staff thread."""
        user, channel, ts, _ = self._where(body)
        ticket_id = self._ticket_of(action, user, channel)
        if ticket_id is None:
            return
        choice = "send" if name == "assist_send" else "ignore"
        outcome = self.app.desk_service.assist(self.actor(user, channel), ticket_id, choice)
        self.render_outcome(outcome, user, channel, message_ts=ts, body=body)

    def rate_action(self, body: dict, action: dict) -> None:
        """Record the member's 1-5 rating once and remove the rating buttons."""
        user, channel, ts, _ = self._where(body)
        ticket_id, _, rating = (action.get("value") or "").partition(":")
        try:
            number = int(rating)
        except ValueError:
            self.ephemeral(channel, user, "That rating button is broken; please ignore it.")
            return
        ticket = self._ticket_of({"value": ticket_id}, user, channel)
        if ticket is None:
            return
        outcome = self.app.desk_service.rate(self.actor(user, channel), ticket, number)
        self.render_outcome(outcome, user, channel, ts, ts, body, done_note=RATED_NOTE)
