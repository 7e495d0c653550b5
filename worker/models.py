"""Model providers: Gemini through its OpenAI-compatible Chat Completions endpoint, or our offline model."""

from agents import Model, OpenAIChatCompletionsModel
from openai import AsyncOpenAI

from common.settings import Settings
from worker.offline import OfflineModel


def make_model(settings: Settings) -> Model:
    if settings.llm_provider == "gemini":
        if not settings.gemini_api_key:
            raise RuntimeError("LLM_PROVIDER=gemini needs GEMINI_API_KEY")
        # The client retries 429, 5xx and timeouts with exponential backoff and jitter.
        client = AsyncOpenAI(
            api_key=settings.gemini_api_key,
            base_url=settings.gemini_base_url,
            max_retries=settings.model_max_retries,
            timeout=settings.model_timeout_s,
        )
        return OpenAIChatCompletionsModel(model=settings.gemini_model, openai_client=client)
    return OfflineModel(delay_s=settings.offline_model_delay_s)
