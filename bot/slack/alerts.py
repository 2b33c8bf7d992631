"""Alerts and the weekly digest on Slack: render the core's posts as Block Kit, send, report back."""

from __future__ import annotations

import logging
from typing import Any

from slack_sdk.errors import SlackApiError

from bot.monitoring.poster import AlertPoster, Post
from bot.slack.delivery import api_error
from bot.slack.render import panel_blocks

log = logging.getLogger(__name__)


def render_post(post: Post) -> tuple[str, list[dict[str, Any]]]:
    """Block Kit for one post; the admin-set on-call mention goes first, unescaped, so it pings."""
    text, blocks = panel_blocks(post)
    if post.mention:
        mention = {"type": "section", "text": {"type": "mrkdwn", "text": post.mention}}
        blocks = [blocks[0], mention, *blocks[1:]]
        text = f"{post.mention} {text}"
    return text, blocks


def post_alerts(adapter: Any, poster: AlertPoster) -> int:
    """Send every post that is due (chart in the message's thread); returns how many went out."""
    sent = 0
    for post in poster.due():
        text, blocks = render_post(post)
        try:
            ts = adapter.post(post.channel, text, blocks=blocks)["ts"]
        except SlackApiError as err:
            poster.failed(post, api_error(err))
            continue
        except Exception as err:  # the network itself: retried on a later pass
            poster.failed(post, repr(err))
            continue
        poster.sent(post)
        sent += 1
        if post.image_png:
            try:
                adapter.client.files_upload_v2(
                    channel=post.channel,
                    thread_ts=ts,
                    content=post.image_png,
                    filename=post.image_name,
                    title=post.title,
                )
            except Exception:  # the message is out; a missing chart is not worth a repost
                log.exception("chart upload for alert %s failed", post.event_id)
    return sent
