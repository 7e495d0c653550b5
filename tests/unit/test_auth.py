import json
import time

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from jwt.algorithms import OKPAlgorithm

from common.auth import TokenVerifier
from common.errors import Unauthorized
from common.settings import Settings

ISS = AUD = "https://auth.example.com"


def _keyset(tmp_path, kid="k1"):
    private = Ed25519PrivateKey.generate()
    jwk = json.loads(OKPAlgorithm.to_jwk(private))
    jwk.update({"kid": kid, "alg": "EdDSA"})
    path = tmp_path / "jwks.json"
    path.write_text(json.dumps({"keys": [jwk]}))
    return private, path


def _token(private, *, kid="k1", **claims):
    now = int(time.time())
    body = {"sub": "alice", "iss": ISS, "aud": AUD, "iat": now, "exp": now + 600, **claims}
    body = {k: v for k, v in body.items() if v is not None}
    return jwt.encode(body, private, algorithm="EdDSA", headers={"kid": kid})


@pytest.fixture
def verifier_and_key(tmp_path):
    private, path = _keyset(tmp_path)
    settings = Settings(_env_file=None, auth_jwks_file=path, better_auth_issuer=ISS, better_auth_audience=AUD)
    return TokenVerifier(settings, None), private


class TestTokenVerifier:
    async def test_valid_token(self, verifier_and_key) -> None:
        verifier, key = verifier_and_key
        assert (await verifier.verify(_token(key)))["sub"] == "alice"

    @pytest.mark.parametrize(
        "claims",
        [
            {"exp": int(time.time()) - 120},
            {"iat": int(time.time()) + 3600},
            {"iss": "https://evil.example.com"},
            {"aud": "https://other.example.com"},
            {"sub": None},
        ],
    )
    async def test_bad_claims_are_401(self, verifier_and_key, claims) -> None:
        verifier, key = verifier_and_key
        with pytest.raises(Unauthorized):
            await verifier.verify(_token(key, **claims))

    async def test_another_key_under_the_same_kid_is_401(self, verifier_and_key) -> None:
        verifier, _ = verifier_and_key
        with pytest.raises(Unauthorized):
            await verifier.verify(_token(Ed25519PrivateKey.generate()))

    async def test_alg_none_and_hs256_are_401(self, verifier_and_key, tmp_path) -> None:
        verifier, _ = verifier_and_key
        unsigned = jwt.encode(
            {"sub": "alice", "iss": ISS, "aud": AUD, "exp": 9999999999, "iat": 1}, None, algorithm="none"
        )
        with pytest.raises(Unauthorized):
            await verifier.verify(unsigned)
        public_x = json.loads((tmp_path / "jwks.json").read_text())["keys"][0]["x"]
        hs = jwt.encode(
            {"sub": "alice", "iss": ISS, "aud": AUD, "exp": 9999999999, "iat": 1},
            public_x * 2,
            algorithm="HS256",
            headers={"kid": "k1"},
        )
        with pytest.raises(Unauthorized):
            await verifier.verify(hs)

    @pytest.mark.parametrize("token", ["not-a-jwt", "a.b.c", "x" * 9000])
    async def test_malformed_and_oversized_are_401(self, verifier_and_key, token) -> None:
        verifier, _ = verifier_and_key
        with pytest.raises(Unauthorized):
            await verifier.verify(token)
