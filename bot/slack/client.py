"""The Web API client: SLACK_API_URL override and retries where Slack says to retry."""

from __future__ import annotations

import logging

from slack_sdk import WebClient
from slack_sdk.http_retry.builtin_handlers import (
    ConnectionErrorRetryHandler,
    RateLimitErrorRetryHandler,
)

from bot.config import Config

log = logging.getLogger(__name__)


def api_base_url(config: Config) -> str | None:
    """The Web API base URL from config, normalised to end with /api/ as slack_sdk requires."""
    url = (config.slack_api_url or "").strip()
    if not url:
        return None
    url = url.rstrip("/")
    return url + "/" if url.endswith("/api") else url + "/api/"


def make_web_client(config: Config, rate_limit_retries: int = 2) -> WebClient:
    """A WebClient that retries rate limits (honouring Retry-After) and dropped connections."""
    base = api_base_url(config) or WebClient.BASE_URL
    client = WebClient(token=config.slack_bot_token or None, timeout=15, base_url=base)
    add_retry_handlers(client, rate_limit_retries)
    return client


def add_retry_handlers(client: WebClient, rate_limit_retries: int = 2) -> WebClient:
    """Install rate-limit and connection-error retry handlers once."""
    kinds = {type(h) for h in client.retry_handlers}
    if RateLimitErrorRetryHandler not in kinds:
        client.retry_handlers.append(RateLimitErrorRetryHandler(max_retry_count=rate_limit_retries))
    if ConnectionErrorRetryHandler not in kinds:
        client.retry_handlers.append(ConnectionErrorRetryHandler(max_retry_count=2))
    return client
