"""Configuration from the environment and `.env` (DESIGN.md §7). Environment variables win."""

from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal

from pydantic import field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

DEFAULT_DATABASE_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/taskchat"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    # Production unless told: development keys and development tokens exist only in development
    # (`taskchat dev` sets it), so missing auth configuration stops a process instead of opening it.
    taskchat_env: Literal["production", "development"] = "production"

    database_url: str = DEFAULT_DATABASE_URL
    redis_url: str = DEFAULT_REDIS_URL
    db_pool_size: int = 20
    db_max_overflow: int = 30
    db_connect_timeout_s: int = 3
    # A burst waits for a free connection rather than failing; an unreachable database fails at connect.
    db_pool_timeout_s: float = 10.0
    # Prefix of every Redis key and channel we own; lets test runs share one Redis.
    redis_prefix: str = "taskchat"

    llm_provider: Literal["offline", "gemini"] | None = None
    gemini_api_key: str | None = None
    gemini_model: str = "gemini-2.5-flash"
    gemini_base_url: str = "https://generativelanguage.googleapis.com/v1beta/openai/"
    model_timeout_s: float = 60.0
    # Retries of one model call after a 5xx, a timeout or a lost connection (ours, with jittered backoff;
    # the openai client's own retries are off so that two retry loops do not stack).
    model_max_retries: int = 3
    # The project's Gemini quota, shared by every worker process and host through Redis (unset: no pacing).
    gemini_rpm: int | None = None
    gemini_tpm: int | None = None
    # The window those are counted over: Gemini's minute (tests scale it down).
    gemini_quota_window_s: float = 60.0
    # Tried in order when the primary model answers 429 or 503, or is paused or out of daily quota.
    gemini_fallback_models: Annotated[list[str], NoDecode] = []
    # Longest one model call waits for the pace, a provider pause or the breaker before its run gives up.
    gemini_max_wait_s: float = 120.0
    # Consecutive 5xx/timeouts (across all workers) that open the breaker, and its first cooldown.
    gemini_breaker_failures: int = 5
    gemini_breaker_cooldown_s: float = 10.0

    better_auth_url: str | None = None
    better_auth_jwks_url: str | None = None
    better_auth_issuer: str | None = None
    better_auth_audience: str | None = None
    auth_jwks_file: Path | None = None
    auth_algorithms: Annotated[list[str], NoDecode] = ["EdDSA"]
    auth_leeway_s: int = 30
    jwks_cache_ttl_s: int = 300
    allowed_origins: Annotated[list[str], NoDecode] = ["http://localhost:3000"]

    mcp_url: str | None = None
    mcp_service_token: str | None = None

    chat_timeout_s: float = 30.0
    # The sweeper re-enqueues runs still queued after this long, and reminders still undelivered this long
    # after their time (their queue message was lost).
    sweep_queued_after_s: float = 20.0
    sweep_interval_s: float = 5.0
    stream_timeout_s: float = 300.0
    # How long the per-user event feed keeps events (a client that was away longer reloads instead).
    events_keep_hours: float = 24.0
    # A `taskchat worker` process told to stop exits this long after, whatever is still going: Dramatiq
    # would otherwise retry an acknowledgement Redis cannot take forever (worker/broker.py).
    worker_shutdown_grace_s: float = 30.0
    # Seconds the offline model waits per answer (streamed out gradually): simulates a real model for demos.
    offline_model_delay_s: float = 0.0
    history_max_messages: int = 20
    max_inflight_runs_per_user: int = 5
    max_message_chars: int = 4000
    max_body_bytes: int = 64 * 1024

    # Where `taskchat dev` keeps its embedded PostgreSQL, Redis and development keys.
    taskchat_home: Path = Path.home() / ".taskchat"

    @field_validator("allowed_origins", "auth_algorithms", "gemini_fallback_models", mode="before")
    @classmethod
    def _split_commas(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip().rstrip("/") for part in value.split(",") if part.strip()]
        return value

    @field_validator(
        "gemini_rpm",
        "gemini_tpm",
        "better_auth_url",
        "better_auth_jwks_url",
        "better_auth_issuer",
        "better_auth_audience",
        "auth_jwks_file",
        "mcp_url",
        "mcp_service_token",
        mode="before",
    )
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        return None if value == "" else value  # `GEMINI_RPM: ${GEMINI_RPM:-}` in docker-compose.yml

    @field_validator("database_url")
    @classmethod
    def _use_psycopg_driver(cls, value: str) -> str:
        for scheme in ("postgres://", "postgresql://", "postgresql+psycopg2://", "postgresql+asyncpg://"):
            if value.startswith(scheme):
                return "postgresql+psycopg://" + value[len(scheme) :]
        return value

    @model_validator(mode="after")
    def _pick_provider(self) -> "Settings":
        if self.llm_provider is None:
            self.llm_provider = "gemini" if self.gemini_api_key else "offline"
        return self

    @property
    def issuer(self) -> str:
        return self.better_auth_issuer or self.better_auth_url or "http://localhost:3000"

    @property
    def audience(self) -> str:
        return self.better_auth_audience or self.better_auth_url or "http://localhost:3000"

    @property
    def jwks_url(self) -> str | None:
        if self.better_auth_jwks_url:
            return self.better_auth_jwks_url
        if self.better_auth_url:
            return self.better_auth_url.rstrip("/") + "/api/auth/jwks"
        return None

    @property
    def development(self) -> bool:
        return self.taskchat_env == "development"

    @property
    def jwks_file(self) -> Path | None:
        """The key set file tokens are verified with, when it is not Better Auth's JWKS: AUTH_JWKS_FILE, or
        in development only, with no Better Auth URL, the local development key set in TASKCHAT_HOME."""
        if self.auth_jwks_file is not None:
            return self.auth_jwks_file
        if self.jwks_url is not None or not self.development:
            return None
        return self.taskchat_home / "dev-jwks.json"

    @property
    def dev_tokens(self) -> bool:
        """Whether the API hands out development tokens (`POST /api/dev-token`): in development, when it
        verifies tokens with a local key set."""
        return self.development and self.jwks_file is not None


@lru_cache
def get_settings() -> Settings:
    return Settings()
