"""Better Auth identities: EdDSA JWTs from its `jwt()` plugin, checked against its JWKS (or a key set
file: AUTH_JWKS_FILE, or in development the local key set). The API and the MCP server verify with this."""

import asyncio
import json
import logging
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx2
import jwt

from common.errors import ConfigError, Unauthorized, Unavailable
from common.settings import Settings

log = logging.getLogger("taskchat.auth")
MAX_TOKEN_BYTES = 8192
REFETCH_COOLDOWN_S = 30.0
VERIFIED_KEPT = 10_000
MIN_SERVICE_TOKEN_CHARS = 32


def key_source_problem(settings: Settings) -> str | None:
    """Why this configuration cannot verify tokens, or None. Outside development nothing falls back to
    the development key set: the API, the workers and the MCP server refuse to start instead."""
    if settings.auth_jwks_file is not None:
        if settings.development or settings.auth_jwks_file.is_file():
            return None  # in development a missing file is created (common.devkeys)
        return f"AUTH_JWKS_FILE {settings.auth_jwks_file} does not exist"
    if settings.jwks_url is not None or settings.development:
        return None
    return (
        "no Better Auth key source: set BETTER_AUTH_URL (or BETTER_AUTH_JWKS_URL, or AUTH_JWKS_FILE); "
        "for local development keys set TASKCHAT_ENV=development"
    )


def service_token_problem(settings: Settings) -> str | None:
    """Why MCP_SERVICE_TOKEN cannot be used, or None: it acts for any user, so it has no default and
    must be long enough not to be guessed."""
    token = settings.mcp_service_token or ""
    if len(token) >= MIN_SERVICE_TOKEN_CHARS:
        return None
    said = "is not set" if not token else f"has {len(token)} characters"
    return (
        f"MCP_SERVICE_TOKEN {said}; it must be at least {MIN_SERVICE_TOKEN_CHARS} random characters "
        "(make one with: openssl rand -hex 32)"
    )


class KeySet:
    """Public keys by `kid`: fetched with the app's HTTP client and kept for a TTL; an unknown `kid`
    triggers one refetch, at most once per cooldown, so forged kids cannot hammer the issuer."""

    def __init__(self, settings: Settings, http: httpx2.AsyncClient | None) -> None:
        self.settings, self.http = settings, http
        self.file: Path | None = settings.jwks_file
        self.url = None if self.file else settings.jwks_url
        if self.file is None and self.url is None:
            raise ConfigError(key_source_problem(settings) or "no key source")
        self._keys: dict[str, jwt.PyJWK] = {}
        self._fetched_at = float("-inf")  # not 0.0: monotonic time may start near 0 on a fresh boot
        # The last fetch attempt, successful or not: the unknown-kid cooldown counts from it, so a JWKS
        # that is down does not turn every forged kid into a fetch.
        self._attempted_at = float("-inf")
        self._lock = asyncio.Lock()

    @property
    def fresh_until(self) -> float:
        """The monotonic time at which these keys are next fetched again."""
        return self._fetched_at + self.settings.jwks_cache_ttl_s

    def _stale(self, kid: str | None) -> bool:
        now = time.monotonic()
        if now - self._fetched_at >= self.settings.jwks_cache_ttl_s:
            return True
        return kid is not None and kid not in self._keys and now - self._attempted_at > REFETCH_COOLDOWN_S

    async def get(self, kid: str | None) -> list[jwt.PyJWK]:
        if self._stale(kid):
            async with self._lock:
                if self._stale(kid):  # checked again: requests that waited here reuse the fetch just made
                    await self._refresh(keep_on_error=bool(self._keys))
        if kid is None:
            return list(self._keys.values())
        return [self._keys[kid]] if kid in self._keys else []

    async def _refresh(self, *, keep_on_error: bool) -> None:
        self._attempted_at = time.monotonic()
        try:
            document = await self._load()
        except Exception as exc:
            if keep_on_error:  # cached keys keep working while the issuer is down
                log.warning("auth.jwks.refresh_failed error=%s", exc)
                self._fetched_at = time.monotonic() - self.settings.jwks_cache_ttl_s + REFETCH_COOLDOWN_S
                return
            raise Unavailable("The identity provider's keys are unavailable.") from exc
        keys = {}
        for entry in document.get("keys", []):
            if entry.get("alg") not in self.settings.auth_algorithms:
                continue
            try:
                keys[entry.get("kid", "")] = jwt.PyJWK(_public(entry))
            except jwt.PyJWKError:
                continue
        self._keys, self._fetched_at = keys, time.monotonic()

    async def _load(self) -> dict[str, Any]:
        if self.url:
            assert self.http is not None
            response = await self.http.get(self.url, timeout=5.0)
            response.raise_for_status()
            return response.json()
        assert self.file is not None
        if self.settings.development and not self.file.exists():
            from common import devkeys

            devkeys.ensure_keyset(self.file)
        return json.loads(self.file.read_text())


def _public(entry: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in entry.items() if k not in ("d", "p", "q", "dp", "dq", "qi")}


class TokenVerifier:
    """Verified tokens are remembered (a client sends the same token with every message, and checking an
    EdDSA signature is most of a request's authentication cost) until they expire, and only while the
    key set that verified them is fresh: a key withdrawn from the JWKS stops working as soon as it would
    without this cache."""

    def __init__(self, settings: Settings, http: httpx2.AsyncClient | None) -> None:
        self.settings = settings
        self.keys = KeySet(settings, http)
        self._verified: dict[str, tuple[float, dict[str, Any]]] = {}  # token -> (trusted until, claims)

    async def verify(self, token: str) -> dict[str, Any]:
        if len(token) > MAX_TOKEN_BYTES:
            raise Unauthorized("The token is too large.")
        remembered = self._verified.get(token)
        if remembered is not None:
            if time.monotonic() < remembered[0]:
                return remembered[1]
            del self._verified[token]
        claims = await self._verify(token)
        lifetime = float(claims["exp"]) + self.settings.auth_leeway_s - datetime.now(UTC).timestamp()
        until = min(time.monotonic() + lifetime, self.keys.fresh_until)
        if len(self._verified) >= VERIFIED_KEPT:
            self._verified.pop(next(iter(self._verified)))  # the oldest
        self._verified[token] = (until, claims)
        return claims

    async def _verify(self, token: str) -> dict[str, Any]:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise Unauthorized("The token is malformed.") from None
        if header.get("alg") not in self.settings.auth_algorithms:
            raise Unauthorized("The token's algorithm is not allowed.")
        candidates = await self.keys.get(header.get("kid"))
        if not candidates:
            raise Unauthorized("The token was signed by an unknown key.")
        error: jwt.PyJWTError | None = None
        for key in candidates:
            try:
                return jwt.decode(
                    token,
                    key.key,
                    algorithms=self.settings.auth_algorithms,
                    audience=self.settings.audience,
                    issuer=self.settings.issuer,
                    leeway=self.settings.auth_leeway_s,
                    options={"require": ["exp", "iat", "sub", "iss", "aud"]},
                )
            except jwt.InvalidSignatureError as exc:
                error = exc
            except jwt.PyJWTError as exc:
                raise Unauthorized(f"The token is invalid: {exc}.") from None
        raise Unauthorized(f"The token is invalid: {error}.")
