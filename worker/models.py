"""Model providers: Gemini through its OpenAI-compatible Chat Completions endpoint, or our offline model."""

import redis.asyncio as aredis
from agents import Model, OpenAIChatCompletionsModel
from openai import AsyncOpenAI

from common.settings import Settings
from worker.gemini import PacedModel
from worker.offline import OfflineModel
from worker.pace import Pace


def make_model(settings: Settings, redis: aredis.Redis) -> Model:
    if settings.llm_provider == "gemini":
        if not settings.gemini_api_key:
            raise RuntimeError("LLM_PROVIDER=gemini needs GEMINI_API_KEY")
        # No retries in the client: PacedModel retries with the shared pace, Gemini's retry delays and the
        # breaker in view; the client's own loop would retry each 429 on its own, in step with every other.
        client = AsyncOpenAI(
            api_key=settings.gemini_api_key,
            base_url=settings.gemini_base_url,
            max_retries=0,
            timeout=settings.model_timeout_s,
        )
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
            models, paces, max_retries=settings.model_max_retries, max_wait_s=settings.gemini_max_wait_s
        )
    return OfflineModel(delay_s=settings.offline_model_delay_s)
