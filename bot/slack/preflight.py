"""Before `run slack` loads anything: the settings it needs and a token Slack accepts, one line each."""

from __future__ import annotations

import logging
from typing import Any

from slack_sdk.errors import SlackApiError

from bot.config import Config, ConfigError
from bot.slack.client import api_base_url, make_web_client


def required_settings(config: Config, http: bool) -> list[str]:
    """The variables this transport cannot start without, in the order the guide lists them."""
    needed = {
        "SLACK_BOT_TOKEN": config.slack_bot_token,
        "SLACK_SIGNING_SECRET" if http else "SLACK_APP_TOKEN": (
            config.slack_signing_secret if http else config.slack_app_token
        ),
        "SLACK_ESCALATION_CHANNEL": config.slack_escalation_channel,
    }
    return [name for name, value in needed.items() if not value]


def check_slack(config: Config, http: bool) -> dict[str, Any]:
    """auth.test with the configured token; a ConfigError that says what to fix otherwise."""
    missing = required_settings(config, http)
    if missing:
        command = "deskhand run slack" + (" --http" if http else "")
        raise ConfigError(
            f"`{command}` needs {', '.join(missing)}: set them as the README's Slack section shows"
        )
    where = api_base_url(config) or "https://slack.com/api/"
    sdk_log = logging.getLogger("slack_sdk")
    level, sdk_log.level = sdk_log.level, logging.CRITICAL  # our one line says it, not its three
    try:
        return dict(make_web_client(config).auth_test().data)  # type: ignore[arg-type]
    except SlackApiError as exc:
        error = exc.response.get("error", "rejected") if exc.response is not None else "rejected"
        raise ConfigError(
            f"Slack refused SLACK_BOT_TOKEN ({error}): copy the Bot User OAuth Token (xoxb-…) "
            "from your app's OAuth & Permissions page (reinstall the app if it was revoked)"
        ) from exc
    except OSError as exc:  # URLError, refused, DNS, TLS: Slack is not reachable from here
        reason = getattr(exc, "reason", None) or exc
        raise ConfigError(
            f"cannot reach Slack at {where} ({reason}): check the network or proxy, "
            "or SLACK_API_URL"
        ) from exc
    finally:
        sdk_log.setLevel(level)
