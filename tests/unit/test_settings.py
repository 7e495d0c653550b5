from common.settings import Settings


class TestSettings:
    def test_lists_are_comma_separated(self) -> None:
        s = Settings(_env_file=None, allowed_origins="https://app.example.com, http://localhost:3000/")
        assert s.allowed_origins == ["https://app.example.com", "http://localhost:3000"]

    def test_gemini_pacing_settings(self) -> None:
        s = Settings(_env_file=None, gemini_rpm="", gemini_tpm="250000", gemini_fallback_models="")
        assert (s.gemini_rpm, s.gemini_tpm, s.gemini_fallback_models) == (None, 250_000, [])
        s = Settings(_env_file=None, gemini_fallback_models="gemini-2.5-flash-lite, gemini-2.0-flash")
        assert s.gemini_fallback_models == ["gemini-2.5-flash-lite", "gemini-2.0-flash"]

    def test_database_url_uses_psycopg_driver(self) -> None:
        s = Settings(_env_file=None, database_url="postgres://u:p@ep-x-pooler.neon.tech/db?sslmode=require")
        assert s.database_url == "postgresql+psycopg://u:p@ep-x-pooler.neon.tech/db?sslmode=require"

    def test_provider_defaults_to_gemini_only_with_a_key(self, monkeypatch) -> None:
        monkeypatch.delenv("LLM_PROVIDER", raising=False)
        assert Settings(_env_file=None).llm_provider == "offline"
        assert Settings(_env_file=None, gemini_api_key="k").llm_provider == "gemini"
        assert Settings(_env_file=None, gemini_api_key="k", llm_provider="offline").llm_provider == "offline"

    def test_environment_wins_over_dotenv(self, tmp_path, monkeypatch) -> None:
        env_file = tmp_path / ".env"
        env_file.write_text("CHAT_TIMEOUT_S=5\nHISTORY_MAX_MESSAGES=7\n")
        monkeypatch.setenv("CHAT_TIMEOUT_S", "9")
        s = Settings(_env_file=env_file)
        assert (s.chat_timeout_s, s.history_max_messages) == (9.0, 7)

    def test_pooled_neon_url_disables_prepared_statements(self) -> None:
        from common.db import connect_args

        pooled = connect_args(
            Settings(_env_file=None, database_url="postgresql://u@ep-x-pooler.neon.tech/db")
        )
        direct = connect_args(Settings(_env_file=None, database_url="postgresql://u@ep-x.neon.tech/db"))
        assert "prepare_threshold" in pooled and pooled["prepare_threshold"] is None
        assert "prepare_threshold" not in direct
