"""Process settings from environment variables and an optional deskhand.toml."""

from __future__ import annotations

import os
import re
import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path

from knowledge.errors import SetupError

ENV_KEYS = {
    "home": "DESKHAND_HOME",
    "database_url": "DESKHAND_DATABASE_URL",
    "llm": "DESKHAND_LLM",
    "llm_base_url": "DESKHAND_LLM_BASE_URL",
    "llm_api_key": "DESKHAND_LLM_API_KEY",
    "llm_timeout_s": "DESKHAND_LLM_TIMEOUT",
    "embedder": "DESKHAND_EMBEDDER",
    "slack_bot_token": "SLACK_BOT_TOKEN",
    "slack_app_token": "SLACK_APP_TOKEN",
    "slack_signing_secret": "SLACK_SIGNING_SECRET",
    "slack_api_url": "SLACK_API_URL",
    "slack_escalation_channel": "SLACK_ESCALATION_CHANNEL",
    "slack_help_channels": "SLACK_HELP_CHANNELS",
    "slack_admin_users": "SLACK_ADMIN_USERS",
    "slack_staff_users": "SLACK_STAFF_USERS",
    "discord_token": "DISCORD_TOKEN",
    "discord_escalation_channel": "DISCORD_ESCALATION_CHANNEL",
    "discord_help_channels": "DISCORD_HELP_CHANNELS",
    "discord_guilds": "DISCORD_GUILDS",
    "discord_admin_roles": "DISCORD_ADMIN_ROLES",
    "discord_staff_roles": "DISCORD_STAFF_ROLES",
    "discord_shard_id": "DISCORD_SHARD_ID",
    "discord_shard_count": "DISCORD_SHARD_COUNT",
}


EMBEDDERS = ("minilm", "all-MiniLM-L6-v2", "minilm-torch", "hashing")
LLM_FORM = "provider:model, e.g. openai:gpt-4o-mini, anthropic:claude-sonnet-4-5 or ollama:llama3.1"


class ConfigError(SetupError):
    """A setting that cannot work; the message names the variable and what to set instead."""


@dataclass
class Config:
    """Everything the process needs to start; runtime knobs live in the database instead."""

    home: str = ".deskhand"
    database_url: str = ""
    llm: str = ""
    llm_base_url: str = ""
    llm_api_key: str = ""
    llm_timeout_s: float = 20.0
    embedder: str = "minilm"
    slack_bot_token: str = ""
    slack_app_token: str = ""
    slack_signing_secret: str = ""
    slack_api_url: str = ""
    slack_escalation_channel: str = ""
    slack_help_channels: str = ""
    slack_admin_users: str = ""
    slack_staff_users: str = ""
    discord_token: str = ""
    discord_escalation_channel: str = ""
    discord_help_channels: str = ""
    discord_guilds: str = ""
    discord_admin_roles: str = ""
    discord_staff_roles: str = ""
    discord_shard_id: str = ""
    discord_shard_count: str = ""
    extra: dict = field(default_factory=dict)

    @property
    def home_path(self) -> Path:
        """The data directory (absolute: a relative DESKHAND_HOME is fixed at start-up), created on first use."""
        path = Path(self.home).expanduser().resolve()
        path.mkdir(parents=True, exist_ok=True)
        return path

    @property
    def data_location(self) -> str:
        """Where the data is, said absolutely: a relative DESKHAND_HOME depends on the folder."""
        if self.database_url:
            return re.sub(r"//[^@/]*@", "//…@", self.database_url)  # never print a password
        return str(Path(self.home).expanduser().resolve())

    def require_data(self) -> None:
        """Read-only commands on a data folder that does not exist: say where we looked, create nothing."""
        if self.database_url or (Path(self.home).expanduser() / "deskhand.sqlite").is_file():
            return
        relative = (
            "" if Path(self.home).expanduser().is_absolute() else f" (relative to {Path.cwd()})"
        )
        raise ConfigError(
            f"no Deskhand data in {self.data_location}{relative}: run from the folder you set it "
            "up in, set DESKHAND_HOME to its absolute path, or create it with `deskhand kb import PATH`"
        )

    @property
    def db_url(self) -> str:
        """SQLAlchemy URL: DESKHAND_DATABASE_URL or SQLite under the data dir."""
        return self.database_url or f"sqlite:///{self.sqlite_path}"

    @property
    def lance_path(self) -> Path:
        """Where the LanceDB knowledge index lives."""
        return self.home_path / "lancedb"

    @property
    def sqlite_path(self) -> Path | None:
        """The SQLite file when no DESKHAND_DATABASE_URL is set (read directly by `kb search`)."""
        return None if self.database_url else self.home_path / "deskhand.sqlite"

    @property
    def snapshot_path(self) -> Path:
        """Where the search snapshot for read-only commands lives (knowledge.snapshot)."""
        return self.home_path / "search-snapshot.npz"

    @property
    def checkpoint_path(self) -> Path:
        """Where older versions kept LangGraph checkpoints (moved into the database at start-up)."""
        return self.home_path / "checkpoints.sqlite"

    @staticmethod
    def split(value: str) -> list[str]:
        """Parse a comma-separated setting into a clean list."""
        return [item.strip() for item in value.split(",") if item.strip()]


def load_config(env: dict[str, str] | None = None, toml_path: str | Path | None = None) -> Config:
    """Build Config from deskhand.toml (if present) overlaid with environment variables."""
    env = dict(os.environ if env is None else env)
    values: dict = {}
    path = Path(toml_path or env.get("DESKHAND_CONFIG", "deskhand.toml"))
    if path.is_file():
        with path.open("rb") as handle:
            data = tomllib.load(handle)
        known = {f.name for f in fields(Config)}
        values.update({k: v for k, v in data.items() if k in known and k != "extra"})
    for attr, key in ENV_KEYS.items():
        if env.get(key):
            values[attr] = env[key]
    if "llm_timeout_s" in values:
        values["llm_timeout_s"] = _seconds(values["llm_timeout_s"])
    config = Config(**values)
    check_config(config)
    return config


def _seconds(raw: object) -> float:
    """DESKHAND_LLM_TIMEOUT as a positive number of seconds, or a ConfigError saying so."""
    try:
        seconds = float(raw)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        seconds = float("nan")
    if not seconds > 0 or seconds == float("inf"):
        raise ConfigError(
            f"DESKHAND_LLM_TIMEOUT={raw!r} is not a number of seconds: set e.g. DESKHAND_LLM_TIMEOUT=20"
        )
    return seconds


def check_config(config: Config) -> None:
    """Refuse settings that would only fail later, deep inside a model or a connection."""
    if config.embedder not in EMBEDDERS:
        raise ConfigError(
            f"DESKHAND_EMBEDDER={config.embedder!r} is unknown: use minilm (default), "
            "minilm-torch or hashing"
        )
    llm = config.llm.strip()
    if llm and not config.llm_base_url and not re.fullmatch(r"[A-Za-z0-9_.-]+:\S+", llm):
        raise ConfigError(
            f"DESKHAND_LLM={llm!r} is not {LLM_FORM} "
            "(or set DESKHAND_LLM_BASE_URL for an OpenAI-compatible server)"
        )
