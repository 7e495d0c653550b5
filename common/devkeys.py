"""A local Ed25519 key set for development: `taskchat token USER_ID` signs with it, and the API
accepts it when no Better Auth server is configured (`AUTH_JWKS_FILE`, or the default dev file)."""

import json
import os
import secrets
import time
from pathlib import Path

import jwt
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from jwt.algorithms import OKPAlgorithm

from common.settings import Settings


def ensure_keyset(path: Path) -> None:
    if path.exists():
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    jwk = json.loads(OKPAlgorithm.to_jwk(Ed25519PrivateKey.generate()))
    jwk.update({"alg": "EdDSA", "kid": secrets.token_urlsafe(12), "use": "sig"})
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_text(json.dumps({"keys": [jwk]}, indent=2))
    tmp.chmod(0o600)
    try:
        os.link(tmp, path)  # atomic: two processes creating the file at once agree on one key
    except FileExistsError:
        pass
    finally:
        tmp.unlink()


def mint_token(settings: Settings, user_id: str, *, ttl_s: int = 7 * 24 * 3600) -> str:
    path = settings.dev_jwks_file
    ensure_keyset(path)
    jwk = json.loads(path.read_text())["keys"][0]
    key = jwt.PyJWK(jwk)
    now = int(time.time())
    claims = {
        "sub": user_id,
        "iss": settings.issuer,
        "aud": settings.audience,
        "iat": now,
        "exp": now + ttl_s,
    }
    return jwt.encode(claims, key.key, algorithm="EdDSA", headers={"kid": jwk["kid"]})
