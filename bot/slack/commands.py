"""`/deskhand` on Slack: hand the text to admin_commands, show the result ephemerally or as a modal."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from slack_sdk.errors import SlackApiError

import admin_commands
from admin_commands import Caller, CommandResult
from bot.slack.delivery import api_error, deliver_pending
from bot.slack.render import render_command_result, render_modal

if TYPE_CHECKING:
    from bot.slack.adapter import SlackAdapter

log = logging.getLogger(__name__)
PLATFORM = "slack"


def make_caller(adapter: SlackAdapter, user_id: str, channel_id: str) -> Caller:
    """The admin layer's Caller for a Slack user (role is derived there from SLACK_*_USERS)."""
    info = adapter.user_info(user_id)
    return Caller(
        platform=PLATFORM,
        user_id=user_id,
        display_name=str(info.get("name") or user_id),
        roles=(),
        is_guild_admin=bool(info.get("is_admin")),
        channel_id=channel_id,
    )


def run_slash_command(adapter: SlackAdapter, command: dict, respond: Callable[..., Any]) -> None:
    """Run `/deskhand <text>` (already acked) and show its result to the caller."""
    user, channel = command.get("user_id", ""), command.get("channel_id", "")
    text = (command.get("text") or "").strip()
    try:
        result = admin_commands.run_command(adapter.app, make_caller(adapter, user, channel), text)
    except Exception:
        log.exception("/deskhand %r failed for %s", text, user)
        respond(text=":warning: That command failed; the error is in the bot's log.")
        return
    answer(adapter, result, user, channel, command.get("trigger_id", ""), respond)


def press_button(adapter: SlackAdapter, body: dict, action: dict) -> None:
    """A CommandButton pressed (already acked): the admin layer runs its command as the presser,
    and the result is answered through the press's response_url like a typed command's."""
    from slack_bolt import Respond

    user = (body.get("user") or {}).get("id", "")
    container = body.get("container") or {}
    channel = (body.get("channel") or {}).get("id") or container.get("channel_id", "")
    line = str(action.get("value") or "")
    url = body.get("response_url") or ""
    respond = Respond(response_url=url) if url else None
    try:
        result = admin_commands.run_press(adapter.app, make_caller(adapter, user, channel), line)
    except Exception:
        log.exception("button %r failed for %s", line, user)
        adapter.ephemeral(channel or user, user, ":warning: That button failed; see the log.")
        return
    answer(adapter, result, user, channel, body.get("trigger_id", ""), respond, new_message=True)


def answer(
    adapter: SlackAdapter,
    result: CommandResult,
    user: str,
    channel: str,
    trigger_id: str,
    respond: Callable[..., Any] | None,
    new_message: bool = False,
) -> None:
    """Show a command's result: open its form, or post it (and send what it queued)."""
    modal = result.modal
    if modal is not None:
        meta = json.dumps({"command": modal.command, "channel_id": channel})
        try:
            adapter.client.views_open(trigger_id=trigger_id, view=render_modal(modal, meta))
            return
        except SlackApiError as err:
            log.warning("views.open for %r failed: %s", modal.command, api_error(err))
            if respond is not None:
                respond(text=":warning: Could not open the form; please try again.")
            return
    show_result(adapter, result, user, channel, respond, new_message)
    if result.deliver_now:
        deliver_now(adapter)


def deliver_now(adapter: SlackAdapter) -> None:
    """Send what the command queued in the outbox (cards, notices) now, not on the next pass."""
    try:
        deliver_pending(adapter.app, adapter.client, adapter)
    except Exception:  # the retry loop sends it later; the command itself already succeeded
        log.exception("delivering a command's queued posts failed; the retry loop will")


def show_result(
    adapter: SlackAdapter,
    result: CommandResult,
    user: str,
    channel: str,
    respond: Callable[..., Any] | None,
    new_message: bool = False,
) -> None:
    """Post a CommandResult: ephemeral via response_url (or chat.postEphemeral), plus any image.

    `new_message` (a button press) keeps the message the button was on, so its other buttons
    stay pressable.
    """
    text, blocks = render_command_result(result)
    ephemeral = result.ephemeral
    kind = "ephemeral" if ephemeral else "in_channel"
    sent = False
    if respond is not None:
        extra = {"replace_original": False} if new_message else {}
        try:
            response = respond(text=text, blocks=blocks, response_type=kind, **extra)
            sent = getattr(response, "status_code", 200) < 400
        except Exception as err:
            log.warning("response_url failed: %s", err)
    if not sent:
        if ephemeral:
            adapter.ephemeral(channel, user, text, blocks=blocks)
        else:
            adapter.post_or_park(channel, text, blocks=blocks)
    if result.image_png:
        upload_image(adapter, result, user, channel, ephemeral)


def upload_image(
    adapter: SlackAdapter, result: CommandResult, user: str, channel: str, private: bool
) -> None:
    """Upload a chart: to the caller's DM when the result is private, else to the channel."""
    target = channel
    try:
        if private or not channel:
            target = adapter.client.conversations_open(users=user)["channel"]["id"]
        adapter.client.files_upload_v2(
            channel=target,
            content=result.image_png,
            filename=result.image_name or "deskhand.png",
            title=result.title or "Deskhand",
        )
    except SlackApiError as err:
        log.warning("uploading %s to %s failed: %s", result.image_name, target, api_error(err))
    except Exception:  # the upload URL is a second host; never let a chart break the command
        log.exception("uploading %s to %s failed", result.image_name, target)


def submit_form(adapter: SlackAdapter, body: dict, view: dict) -> None:
    """A submitted modal: run its command with the field values and show the result."""
    user = (body.get("user") or {}).get("id", "")
    meta = json.loads(view.get("private_metadata") or "{}")
    channel = meta.get("channel_id", "")
    values: dict[str, str] = {}
    for block_id, actions in ((view.get("state") or {}).get("values") or {}).items():
        for element in actions.values():
            values[block_id] = element.get("value") or ""
    try:
        result = admin_commands.run_command_form(
            adapter.app, make_caller(adapter, user, channel), meta.get("command", ""), values
        )
    except Exception:
        log.exception("form %r failed for %s", meta.get("command"), user)
        adapter.ephemeral(channel or user, user, ":warning: Saving that form failed.")
        return
    show_result(adapter, result, user, channel or user, None)
