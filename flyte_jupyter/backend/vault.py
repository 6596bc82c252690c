"""Secrets at rest: sealed with AES-256-GCM before they reach the store, opened only to hand them
to an action (or to local mode, which holds the admin token).

Why AES-GCM with the secret's (project, domain, name) as associated data: a row copied onto another
name does not open, and any change to a sealed value is detected. The key is 32 random bytes:

* from ``$FLYTE_JUPYTER_SECRETS_KEY`` (urlsafe base64) when set: on a cluster, where replicas share
  one key kept in the cluster's own secret store, and the database never sits beside its key;
* else from ``DATA_DIR/secrets.key``, created once with mode 0600 (``O_EXCL``: two backends
  starting at once agree on one key).

Lose the key and the stored secrets are lost with it (create them again); the error says so.
"""

from __future__ import annotations

import base64
import os
import time
from pathlib import Path

from flyte_jupyter.backend.store.base import Store
from flyte_jupyter.backend.store.records import SecretRecord

KEY_ENV = "FLYTE_JUPYTER_SECRETS_KEY"
KEY_FILE = "secrets.key"
_VERSION = b"\x01"
_NONCE = 12


class VaultError(Exception):
    """A key that cannot be used, or a sealed value that does not open with it."""


def _decode_key(text: str, where: str) -> bytes:
    try:
        key = base64.urlsafe_b64decode(text.strip() + "=" * (-len(text.strip()) % 4))
    except ValueError:
        key = b""
    if len(key) != 32:
        raise VaultError(f"the secrets key in {where} is not 32 bytes of urlsafe base64; make one with "
                         "python -c 'import os,base64;print(base64.urlsafe_b64encode(os.urandom(32)).decode())'")
    return key


def load_key(data_dir: Path) -> bytes:
    """The key from the environment, else DATA_DIR/secrets.key (made on first use, mode 0600)."""
    text = os.environ.get(KEY_ENV, "")
    if text:
        return _decode_key(text, f"${KEY_ENV}")
    path = data_dir / KEY_FILE
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return _decode_key(path.read_text(), str(path))
    with os.fdopen(fd, "w") as fh:
        fh.write(base64.urlsafe_b64encode(os.urandom(32)).decode() + "\n")
    return _decode_key(path.read_text(), str(path))


class SecretVault:
    """Seal, store, resolve and forget secrets (values never logged, never in a row in the clear)."""

    def __init__(self, store: Store, key: bytes) -> None:
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        self.store = store
        self._aead = AESGCM(key)

    @staticmethod
    def _bound(project: str, domain: str, name: str) -> bytes:
        return f"flyte-jupyter secret\0{project}\0{domain}\0{name}".encode()

    def seal(self, project: str, domain: str, name: str, value: bytes) -> bytes:
        nonce = os.urandom(_NONCE)
        return _VERSION + nonce + self._aead.encrypt(nonce, value, self._bound(project, domain, name))

    def open(self, project: str, domain: str, name: str, sealed: bytes) -> bytes:
        from cryptography.exceptions import InvalidTag

        if sealed[:1] != _VERSION or len(sealed) < 1 + _NONCE + 16:
            raise VaultError(f"secret {name!r} in {project}/{domain} is not sealed in a form this backend reads")
        try:
            return self._aead.decrypt(sealed[1:1 + _NONCE], sealed[1 + _NONCE:], self._bound(project, domain, name))
        except InvalidTag:
            raise VaultError(f"secret {name!r} in {project}/{domain} does not open with this backend's secrets key "
                             f"(was {KEY_FILE} or ${KEY_ENV} replaced?); create the secret again") from None

    async def put(self, project: str, domain: str, name: str, value: bytes, overwrite: bool) -> SecretRecord | None:
        """The stored record, or None when the name exists and not `overwrite`."""
        now = time.time()
        record = SecretRecord(project, domain, name, self.seal(project, domain, name, value), now, now)
        if not await self.store.put_secret(record, overwrite):
            return None
        return await self.store.get_secret(project, domain, name)

    async def resolve(self, project: str, domain: str, names: list[str]) -> dict[str, bytes]:
        """The values of the named secrets that exist (a missing name is left out)."""
        out: dict[str, bytes] = {}
        for name in dict.fromkeys(names):
            record = await self.store.get_secret(project, domain, name)
            if record is not None:
                out[name] = self.open(project, domain, name, record.sealed)
        return out
