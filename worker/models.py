"""Model providers: Gemini through its OpenAI-compatible Chat Completions endpoint, or our offline model."""

import redis.asyncio as aredis
from agents import Model, OpenAIChatCompletionsModel

from common.settings import Settings
from worker.chat_client import make_client
from worker.gemini import PacedModel
from worker.offline import OfflineModel
from worker.pace import Pace


def make_model(settings: Settings, redis: aredis.Redis) -> Model:
    if settings.llm_provider == "gemini":
        if not settings.gemini_api_key:
            raise RuntimeError("LLM_PROVIDER=gemini needs GEMINI_API_KEY")
        client = make_client(settings)  # one per process, shared by the model names
        names = list(dict.fromkeys([settings.gemini_model, *settings.gemini_fallback_models]))
        paces = {
            name: Pace(
                redis,
                settings.redis_prefix,
                name,
                rpm=settings.gemini_rpm,
                tpm=settings.gemini_tpm,
                window_s=settings.gemini_quota_window_s,
                breaker_failures=settings.gemini_breaker_failures,
                breaker_cooldown_s=settings.gemini_breaker_cooldown_s,
                probe_lease_s=settings.model_timeout_s + 5,
            )
            for name in names
        }
        models: dict[str, Model] = {
            name: OpenAIChatCompletionsModel(model=name, openai_client=client) for name in names
        }
        return PacedModel(
            models,
            paces,
            max_retries=settings.model_max_retries,
            max_wait_s=settings.gemini_max_wait_s,
            client=client,
        )
    return OfflineModel(delay_s=settings.offline_model_delay_s)
