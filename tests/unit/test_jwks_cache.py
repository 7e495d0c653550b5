"""The remote JWKS cache of `common.auth`: Better Auth's key set served by an httpx2 MockTransport, and a
fake clock so TTL and cooldown are exercised without sleeping."""

import asyncio
import json
import time

import httpx2
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric.ec import SECP256R1, generate_private_key
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from jwt.algorithms import ECAlgorithm, OKPAlgorithm

import common.auth
from common.auth import REFETCH_COOLDOWN_S, TokenVerifier
from common.errors import Unauthorized, Unavailable
from common.settings import Settings

BASE = "https://auth.example.com"
JWKS_URL = BASE + "/api/auth/jwks"
TTL = 300


class Clock:
    """Stands in for the `time` module inside common.auth only (the event loop keeps the real clock)."""

    def __init__(self) -> None:
        self.now = 1000.0

    def monotonic(self) -> float:
        return self.now


class Issuer:
    """A Better Auth JWKS endpoint: `keys` is what it publishes, `down` makes it fail."""

    def __init__(self) -> None:
        self.keys: list[dict] = []
        self.fetches = 0
        self.down: str | None = None

    def add_key(self, kid: str) -> Ed25519PrivateKey:
        private = Ed25519PrivateKey.generate()
        public = json.loads(OKPAlgorithm.to_jwk(private.public_key()))
        self.keys.append({**public, "alg": "EdDSA", "kid": kid})
        return private

    async def handler(self, request: httpx2.Request) -> httpx2.Response:
        assert str(request.url) == JWKS_URL
        self.fetches += 1
        await asyncio.sleep(0.01)  # network latency: concurrent requests pile up behind the fetch
        if self.down == "refused":
            raise httpx2.ConnectError("connection refused", request=request)
        if self.down == "503":
            return httpx2.Response(503, text="maintenance")
        return httpx2.Response(200, json={"keys": self.keys})


def token(private, kid: str, sub: str = "alice") -> str:  # type: ignore[no-untyped-def]
    now = int(time.time())
    claims = {"sub": sub, "iss": BASE, "aud": BASE, "iat": now, "exp": now + 900}
    return jwt.encode(claims, private, algorithm="EdDSA", headers={"kid": kid})


@pytest.fixture
def clock(monkeypatch) -> Clock:  # type: ignore[no-untyped-def]
    fake = Clock()
    monkeypatch.setattr(common.auth, "time", fake)
    return fake


@pytest.fixture
def issuer() -> Issuer:
    return Issuer()


@pytest.fixture
async def verifier(issuer, clock):  # type: ignore[no-untyped-def]
    settings = Settings(_env_file=None, better_auth_url=BASE, auth_jwks_file=None, jwks_cache_ttl_s=TTL)
    async with httpx2.AsyncClient(transport=httpx2.MockTransport(issuer.handler)) as http:
        v = TokenVerifier(settings, http)
        assert v.keys.url == JWKS_URL
        yield v


async def test_keys_are_fetched_once_within_the_ttl(verifier, issuer, clock) -> None:  # type: ignore[no-untyped-def]
    key = issuer.add_key("k1")
    for i in range(20):
        clock.now += 10  # 200 s in all: still inside the 300 s TTL
        assert (await verifier.verify(token(key, "k1", sub=f"user-{i}")))["sub"] == f"user-{i}"
    assert issuer.fetches == 1
    clock.now += TTL
    await verifier.verify(token(key, "k1"))
    assert issuer.fetches == 2


async def test_a_burst_on_a_cold_cache_is_one_fetch(verifier, issuer) -> None:  # type: ignore[no-untyped-def]
    key = issuer.add_key("k1")
    claims = await asyncio.gather(*(verifier.verify(token(key, "k1", sub=f"u{n}")) for n in range(25)))
    assert [c["sub"] for c in claims] == [f"u{n}" for n in range(25)]
    assert issuer.fetches == 1


async def test_keys_are_fetched_right_after_boot(verifier, issuer, clock) -> None:  # type: ignore[no-untyped-def]
    clock.now = 5.0  # monotonic time counts from boot: a cold cache must not look fresh
    assert (await verifier.verify(token(issuer.add_key("k1"), "k1")))["sub"] == "alice"
    assert issuer.fetches == 1


async def test_an_unknown_kid_refetches_at_most_once_per_cooldown(verifier, issuer, clock) -> None:  # type: ignore[no-untyped-def]
    await verifier.verify(token(issuer.add_key("k1"), "k1"))
    assert issuer.fetches == 1
    forged = Ed25519PrivateKey.generate()

    clock.now += REFETCH_COOLDOWN_S + 1
    for n in range(10):
        with pytest.raises(Unauthorized, match="unknown key"):
            await verifier.verify(token(forged, f"forged-{n}"))
    assert issuer.fetches == 2  # one refetch for the first unknown kid, then the cooldown holds

    # A concurrent burst of forged kids after the cooldown is still one fetch.
    clock.now += REFETCH_COOLDOWN_S + 1
    results = await asyncio.gather(
        *(verifier.verify(token(forged, f"burst-{n}")) for n in range(25)), return_exceptions=True
    )
    assert all(isinstance(r, Unauthorized) for r in results)
    assert issuer.fetches == 3


async def test_a_rotated_key_is_picked_up_by_the_refetch(verifier, issuer, clock) -> None:  # type: ignore[no-untyped-def]
    await verifier.verify(token(issuer.add_key("k1"), "k1"))
    new = issuer.add_key("k2")
    clock.now += REFETCH_COOLDOWN_S + 1
    assert (await verifier.verify(token(new, "k2")))["sub"] == "alice"
    assert issuer.fetches == 2


async def test_keys_with_an_algorithm_not_allowed_are_skipped(verifier, issuer, clock) -> None:  # type: ignore[no-untyped-def]
    ec = generate_private_key(SECP256R1())
    issuer.keys.append({**json.loads(ECAlgorithm.to_jwk(ec.public_key())), "alg": "ES256", "kid": "ec"})
    # An Ed25519 key announced as RS256, and one with no alg at all: neither may be used.
    mislabelled = issuer.add_key("mislabelled")
    issuer.keys[-1]["alg"] = "RS256"
    unlabelled = issuer.add_key("unlabelled")
    del issuer.keys[-1]["alg"]
    good = issuer.add_key("good")

    assert (await verifier.verify(token(good, "good")))["sub"] == "alice"
    assert set(verifier.keys._keys) == {"good"}
    with pytest.raises(Unauthorized):
        await verifier.verify(jwt.encode({"sub": "alice"}, ec, algorithm="ES256", headers={"kid": "ec"}))
    for private, kid in ((mislabelled, "mislabelled"), (unlabelled, "unlabelled")):
        with pytest.raises(Unauthorized, match="unknown key"):
            await verifier.verify(token(private, kid))


@pytest.mark.parametrize("failure", ["refused", "503"])
async def test_jwks_down_on_a_cold_cache_is_503(verifier, issuer, failure) -> None:  # type: ignore[no-untyped-def]
    key = issuer.add_key("k1")
    issuer.down = failure
    with pytest.raises(Unavailable) as raised:
        await verifier.verify(token(key, "k1"))
    assert raised.value.status_code == 503 and raised.value.headers["Retry-After"]
    issuer.down = None  # a cold failure is not cached: the next request fetches again
    assert (await verifier.verify(token(key, "k1")))["sub"] == "alice"


@pytest.mark.parametrize("failure", ["refused", "503"])
async def test_jwks_down_with_a_warm_cache_keeps_the_cached_keys(verifier, issuer, clock, failure) -> None:  # type: ignore[no-untyped-def]
    key = issuer.add_key("k1")
    await verifier.verify(token(key, "k1"))
    issuer.down = failure

    clock.now += TTL + 1  # the cache is stale: one refetch is tried, fails, and the old keys stay
    assert (await verifier.verify(token(key, "k1")))["sub"] == "alice"
    assert issuer.fetches == 2
    for _ in range(10):  # within the cooldown nothing is refetched, not even for unknown kids
        clock.now += 1
        assert (await verifier.verify(token(key, "k1")))["sub"] == "alice"
        with pytest.raises(Unauthorized, match="unknown key"):
            await verifier.verify(token(Ed25519PrivateKey.generate(), "forged"))
    assert issuer.fetches == 2

    clock.now += REFETCH_COOLDOWN_S  # then it retries, still keeping the cached keys
    assert (await verifier.verify(token(key, "k1")))["sub"] == "alice"
    assert issuer.fetches == 3
    issuer.down = None
    clock.now += REFETCH_COOLDOWN_S + 1
    rotated = issuer.add_key("k2")  # back up: the next refetch brings the new key in
    assert (await verifier.verify(token(rotated, "k2")))["sub"] == "alice"
    assert issuer.fetches == 4


async def test_a_verified_token_is_trusted_only_while_its_keys_are_fresh(verifier, issuer, clock) -> None:  # type: ignore[no-untyped-def]
    key = issuer.add_key("k1")
    remembered = token(key, "k1")
    assert (await verifier.verify(remembered))["sub"] == "alice"
    issuer.keys.clear()  # the key is withdrawn; a token verified with it keeps working only until
    clock.now += TTL - 1  # the key set would be fetched again anyway
    assert (await verifier.verify(remembered))["sub"] == "alice"
    assert issuer.fetches == 1
    clock.now += 2
    with pytest.raises(Unauthorized, match="unknown key"):
        await verifier.verify(remembered)
    assert issuer.fetches == 2


async def test_a_verified_token_is_not_trusted_past_its_expiry(issuer, clock) -> None:  # type: ignore[no-untyped-def]
    settings = Settings(
        _env_file=None, better_auth_url=BASE, auth_jwks_file=None, jwks_cache_ttl_s=TTL, auth_leeway_s=0
    )
    async with httpx2.AsyncClient(transport=httpx2.MockTransport(issuer.handler)) as http:
        verifier = TokenVerifier(settings, http)
        key = issuer.add_key("k1")
        exp = int(time.time()) + 1
        claims = {"sub": "alice", "iss": BASE, "aud": BASE, "iat": exp - 1, "exp": exp}
        short_lived = jwt.encode(claims, key, algorithm="EdDSA", headers={"kid": "k1"})
        assert (await verifier.verify(short_lived))["sub"] == "alice"
        await asyncio.sleep(exp - time.time() + 0.05)
        clock.now += 1.05  # the remembered verification lapses with the token
        with pytest.raises(Unauthorized, match="expired"):
            await verifier.verify(short_lived)
