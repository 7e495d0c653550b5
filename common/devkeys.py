"""A local Ed25519 key set for development: `taskchat token USER_ID` signs with it, and the API
accepts it when no Better Auth server is configured. Only in development (TASKCHAT_ENV=development, which
`taskchat dev` sets) is it made when missing; otherwise only an explicit AUTH_JWKS_FILE is used."""

import json
import os
import secrets
import time
from pathlib import Path

import jwt
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from jwt.algorithms import OKPAlgorithm

from common.errors import ConfigError
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
    path = settings.jwks_file
    if path is None:
        raise ConfigError(
            "development tokens need the local key set: TASKCHAT_ENV=development (as under `taskchat dev`), "
            "or AUTH_JWKS_FILE with a private key"
        )
    if settings.development:
        ensure_keyset(path)
    elif not path.is_file():
        raise ConfigError(f"AUTH_JWKS_FILE {path} does not exist")
    jwk = json.loads(path.read_text())["keys"][0]
    if "d" not in jwk:
        raise ConfigError(f"{path} holds no private key to sign with")
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
