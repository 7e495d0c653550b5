"""The token attack matrix through HTTP: a real uvicorn server that trusts the development key set
(common/devkeys.py), and tokens minted with PyJWT, each bent in one way."""

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Callable

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlmodel import select

from common.devkeys import ensure_keyset, mint_token
from common.models import Message


@pytest.fixture(scope="module")
def dev_key(settings):  # type: ignore[no-untyped-def]
    """The private JWK the API trusts (it reads the same file)."""
    ensure_keyset(settings.jwks_file)
    return json.loads(settings.jwks_file.read_text())["keys"][0]


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _hs256(claims: dict, secret: bytes, kid: str) -> str:
    """HS256 built by hand: PyJWT refuses to HMAC with something that looks like a public key."""
    header = {"alg": "HS256", "typ": "JWT", "kid": kid}
    signing_input = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims).encode())}"
    return f"{signing_input}.{_b64(hmac.new(secret, signing_input.encode(), hashlib.sha256).digest())}"


Forge = Callable[[dict, dict, dict], str]


def build(dev_key: dict, settings, user_id: str, forge: Forge, **changes) -> str:  # type: ignore[no-untyped-def]
    """Claims as Better Auth shapes them, changed by `changes` (None removes a claim; a callable gets the
    current time), then signed by `forge`."""
    now = int(time.time())
    changes = {k: v(now) if callable(v) else v for k, v in changes.items()}
    claims = {
        "sub": user_id,
        "id": user_id,
        "email": f"{user_id}@example.com",
        "iss": settings.issuer,
        "aud": settings.audience,
        "iat": now,
        "exp": now + 900,
        **changes,
    }
    claims = {k: v for k, v in claims.items() if v is not None}
    return forge(claims, dev_key, {"alg": "EdDSA", "kid": dev_key["kid"]})


def signed(claims: dict, dev_key: dict, header: dict) -> str:
    return jwt.encode(claims, jwt.PyJWK(dev_key).key, algorithm="EdDSA", headers={"kid": header["kid"]})


def other_key_same_kid(claims: dict, dev_key: dict, header: dict) -> str:
    return jwt.encode(claims, Ed25519PrivateKey.generate(), algorithm="EdDSA", headers={"kid": header["kid"]})


def unknown_kid(claims: dict, dev_key: dict, header: dict) -> str:
    return jwt.encode(
        claims, jwt.PyJWK(dev_key).key, algorithm="EdDSA", headers={"kid": "not-" + header["kid"]}
    )


def alg_none(claims: dict, dev_key: dict, header: dict) -> str:
    return jwt.encode(claims, None, algorithm="none", headers={"kid": header["kid"]})


def hs256_with_public_x(claims: dict, dev_key: dict, header: dict) -> str:
    return _hs256(claims, base64.urlsafe_b64decode(dev_key["x"] + "=="), header["kid"])


def hs256_with_public_pem(claims: dict, dev_key: dict, header: dict) -> str:
    pem = (
        jwt.PyJWK(dev_key)
        .key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    return _hs256(claims, pem, header["kid"])


def oversized(claims: dict, dev_key: dict, header: dict) -> str:
    """Correctly signed, so only the size limit can reject it."""
    return signed({**claims, "padding": "x" * 9000}, dev_key, header)


ATTACKS: dict[str, tuple[Forge, dict]] = {
    "expired": (signed, {"iat": lambda now: now - 3600, "exp": lambda now: now - 120}),
    "iat_in_the_future_beyond_leeway": (signed, {"iat": lambda now: now + 600}),
    "wrong_issuer": (signed, {"iss": "https://evil.example.com"}),
    "wrong_audience": (signed, {"aud": "https://other-api.example.com"}),
    "missing_sub": (signed, {"sub": None}),
    "missing_exp": (signed, {"exp": None}),
    "missing_iss": (signed, {"iss": None}),
    "missing_aud": (signed, {"aud": None}),
    "another_ed25519_key_same_kid": (other_key_same_kid, {}),
    "unknown_kid": (unknown_kid, {}),
    "alg_none": (alg_none, {}),
    "hs256_signed_with_public_key_bytes": (hs256_with_public_x, {}),
    "hs256_signed_with_public_key_pem": (hs256_with_public_pem, {}),
    "oversized": (oversized, {}),
}


async def assert_401(response: httpx.Response) -> None:
    assert response.status_code == 401, response.text
    body = response.json()
    assert set(body) == {"error"} and body["error"]["code"] == "unauthorized" and body["error"]["message"]
    assert response.headers["www-authenticate"].startswith("Bearer")


async def test_the_unbent_token_is_accepted(http, settings, dev_key, user_id) -> None:  # type: ignore[no-untyped-def]
    """The control: the same builder with no change passes, so each 401 below is due to its one change."""
    token = build(dev_key, settings, user_id, signed)
    response = await http.get(f"/api/{user_id}/conversations", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200, response.text
    skewed = build(dev_key, settings, user_id, signed, iat=lambda now: now + 10)  # clock skew inside leeway
    response = await http.get(f"/api/{user_id}/conversations", headers={"Authorization": f"bearer {skewed}"})
    assert response.status_code == 200, response.text


@pytest.mark.parametrize("attack", list(ATTACKS))
async def test_attacks_are_401_and_change_nothing(http, settings, sessions, dev_key, user_id, attack) -> None:  # type: ignore[no-untyped-def]
    forge, changes = ATTACKS[attack]
    token = build(dev_key, settings, user_id, forge, **changes)
    headers = {"Authorization": f"Bearer {token}"}
    await assert_401(await http.post(f"/api/{user_id}/chat", json={"message": "Add a task"}, headers=headers))
    await assert_401(await http.get(f"/api/{user_id}/conversations", headers=headers))
    async with sessions() as s:
        assert (await s.exec(select(Message).where(Message.user_id == user_id))).all() == []


async def test_the_oversized_token_is_refused_for_its_size(http, settings, dev_key, user_id) -> None:  # type: ignore[no-untyped-def]
    token = build(dev_key, settings, user_id, oversized)
    assert len(token) > 8192
    response = await http.get(f"/api/{user_id}/conversations", headers={"Authorization": f"Bearer {token}"})
    await assert_401(response)
    assert "too large" in response.json()["error"]["message"]


@pytest.mark.parametrize(
    "value",
    [
        "not-a-jwt",
        "a.b.c",
        "eyJhbGciOiJFZERTQSJ9.eyJzdWIiOiJ4In0",  # two segments
        "eyJhbGciOiJFZERTQSJ9.eyJzdWIiOiJ4In0.!!!",  # bad signature encoding
        "%%%.%%%.%%%",
        "Bearer",  # "Bearer Bearer"
    ],
)
async def test_malformed_tokens_are_401(http, user_id, value) -> None:  # type: ignore[no-untyped-def]
    response = await http.get(f"/api/{user_id}/conversations", headers={"Authorization": f"Bearer {value}"})
    await assert_401(response)


async def test_a_valid_token_without_the_bearer_scheme_is_401(http, settings, user_id) -> None:  # type: ignore[no-untyped-def]
    token = mint_token(settings, user_id)
    for value in (token, f"Token {token}", f"Basic {token}", f"Bearer{token}", f"JWT {token}"):
        response = await http.get(f"/api/{user_id}/conversations", headers={"Authorization": value})
        await assert_401(response)
    as_cookie = await http.get(
        f"/api/{user_id}/conversations", headers={"Cookie": f"better-auth.session_token={token}"}
    )
    await assert_401(as_cookie)


async def test_a_valid_token_of_another_user_is_403(http, settings, sessions, user_id) -> None:  # type: ignore[no-untyped-def]
    intruder = {"Authorization": f"Bearer {mint_token(settings, 'intruder-' + user_id)}"}
    chat = await http.post(f"/api/{user_id}/chat", json={"message": "Add a task"}, headers=intruder)
    assert chat.status_code == 403 and chat.json()["error"]["code"] == "forbidden"
    listing = await http.get(f"/api/{user_id}/conversations", headers=intruder)
    assert listing.status_code == 403 and listing.json()["error"]["code"] == "forbidden"
    async with sessions() as s:
        assert (await s.exec(select(Message).where(Message.user_id == user_id))).all() == []
