"""enable_llm: build the chat model from the config and swap the LLM parts into the app."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from bot.config import Config
from bot.llm.answerer import LlmAnswerer
from bot.llm.clarifier import LlmClarifier
from bot.llm.handoff import HandoffNotes, LlmHandoffAnalyst, LlmSummariser
from bot.llm.recorder import LlmRecorder
from graph.extractive import ExtractiveAnswerer, ExtractiveSummariser
from knowledge.errors import SetupError

if TYPE_CHECKING:  # bot.app imports this module
    from bot.app import Deskhand

log = logging.getLogger(__name__)
MAX_RETRIES = 1
# Prefixes that only say "an OpenAI-compatible server" when a base URL is configured.
COMPATIBLE_PREFIXES = {"openai", "vllm", "llamacpp", "llama.cpp", "local", "compatible", "ollama"}


class LlmSetupError(SetupError):
    """DESKHAND_LLM is set but no model can be built from it; say what to install or set."""


@dataclass
class LlmRuntime:
    """The shared model, recorder and handoff notes, kept on the app as `app.llm`."""

    model: Any
    recorder: LlmRecorder
    notes: HandoffNotes
    name: str


def model_spec(config: Config) -> tuple[str, str | None, dict[str, Any]]:
    """(model, provider, kwargs) for init_chat_model: provider string, or OpenAI-compatible URL."""
    spec = config.llm.strip()
    timeout = float(config.llm_timeout_s or 20.0)
    if config.llm_base_url:
        prefix, _, rest = spec.partition(":")
        model = rest if rest and prefix.lower() in COMPATIBLE_PREFIXES else spec
        kwargs: dict[str, Any] = {
            "base_url": config.llm_base_url,
            "api_key": config.llm_api_key or "not-needed",
            "timeout": timeout,
            "max_retries": MAX_RETRIES,
        }
        return model, "openai", kwargs
    provider = spec.partition(":")[0].lower() if ":" in spec else ""
    if provider == "ollama":
        kwargs = {"client_kwargs": {"timeout": timeout}}
    else:
        kwargs = {"timeout": timeout, "max_retries": MAX_RETRIES}
    if config.llm_api_key and provider != "ollama":
        kwargs["api_key"] = config.llm_api_key
    return spec, None, kwargs


def build_chat_model(config: Config) -> Any:
    """A LangChain chat model for any provider init_chat_model knows (openai, anthropic, ollama…)."""
    try:
        from langchain.chat_models import init_chat_model
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise LlmSetupError(
            "DESKHAND_LLM is set but the `langchain` package is missing: "
            "pip install 'deskhand[llm]' (plus the provider package, e.g. langchain-anthropic)."
        ) from exc
    model, provider, kwargs = model_spec(config)
    try:
        return init_chat_model(model, model_provider=provider, **kwargs)
    except ImportError as exc:
        raise LlmSetupError(
            f"DESKHAND_LLM={config.llm!r} needs a provider package: {exc}. "
            "Install it (e.g. pip install langchain-anthropic / langchain-ollama)."
        ) from exc
    except ValueError as exc:
        raise LlmSetupError(f"DESKHAND_LLM={config.llm!r}: {exc}") from exc
    except Exception as exc:  # e.g. openai.OpenAIError: no API key anywhere
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise LlmSetupError(
            f"DESKHAND_LLM={config.llm!r} cannot start ({first}): "
            "set DESKHAND_LLM_API_KEY, or DESKHAND_LLM_BASE_URL for a local server"
        ) from exc


def enable_llm(app: Deskhand, model: Any = None, name: str | None = None) -> LlmRuntime:
    """Swap in the LLM answerer, summariser, clarifier and analyst; classification stays local.

    `model` lets tests (and embedders of Deskhand) pass any LangChain chat model directly.
    """
    config: Config = app.config
    chat_model = model if model is not None else build_chat_model(config)
    label = name or config.llm or getattr(chat_model, "model_name", "") or "llm"
    recorder = LlmRecorder(app.engine, label)
    notes = HandoffNotes(chat_model, recorder)
    app.answerer = LlmAnswerer(chat_model, fallback=ExtractiveAnswerer(), recorder=recorder)
    app.summariser = LlmSummariser(notes, fallback=ExtractiveSummariser())
    app.clarifier = LlmClarifier(chat_model, recorder)
    app.handoff_analyst = LlmHandoffAnalyst(notes)
    runtime = LlmRuntime(chat_model, recorder, notes, label)
    app.llm = runtime
    log.info("LLM mode on: %s (timeout %.0fs)", label, float(config.llm_timeout_s or 20.0))
    return runtime
