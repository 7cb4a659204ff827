"""Optional end-to-end encryption: people's words are sealed on the device before they are pushed.

The key is derived from the sync passphrase with argon2id (PyNaCl); each sealed value is
XChaCha20-Poly1305 with a random nonce, and the row's identity (table, row id, field) is bound
as associated data, so a sealed title cannot be replayed as another row's or field's value.
The server stores the ciphertext and still orders and merges by the clear ids and stamps.
The salt, the KDF's cost and a sealed check value are kept on the server (they are not
secret), so every device of the person derives the same key and can tell a wrong passphrase.
"""

from __future__ import annotations

import base64
import json
import os
from dataclasses import dataclass, replace
from typing import Any

from nacl import pwhash
from nacl.bindings import (
    crypto_aead_xchacha20poly1305_ietf_decrypt,
    crypto_aead_xchacha20poly1305_ietf_encrypt,
)
from nacl.exceptions import CryptoError

from .protocol import Change, Operation
from .schema import TABLES

PREFIX = "sealed:v1:"
NONCE_BYTES = 24
_CHECK = ("seal", "00000000-0000-0000-0000-000000000000", "check")
_CHECK_TEXT = "dataelan sync passphrase check"


class SealError(ValueError):
    """Sealed data that this passphrase cannot open (wrong or lost passphrase, or damaged data)."""


CANNOT_READ = (
    "Your synced data cannot be read with this passphrase. Enter the passphrase you chose when "
    "you turned on encryption; without it, the encrypted data cannot be recovered."
)


@dataclass(frozen=True)
class SealParams:
    salt: bytes
    opslimit: int = pwhash.argon2id.OPSLIMIT_INTERACTIVE
    memlimit: int = pwhash.argon2id.MEMLIMIT_INTERACTIVE
    check: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "kdf": "argon2id",
            "salt": base64.b64encode(self.salt).decode(),
            "opslimit": self.opslimit,
            "memlimit": self.memlimit,
            "check": self.check,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> SealParams:
        if data.get("kdf") != "argon2id":
            raise SealError("the server's encryption settings use a method this app does not know")
        return cls(
            base64.b64decode(data["salt"]), int(data["opslimit"]), int(data["memlimit"]), data["check"]
        )


class Sealer:
    def __init__(self, key: bytes):
        self._key = key

    @property
    def key(self) -> bytes:
        """The derived key (the app keeps it in the keyring, so the passphrase is asked once)."""
        return self._key

    @classmethod
    def create(cls, passphrase: str, **cost: int) -> tuple[Sealer, SealParams]:
        """A new key from a new passphrase; the params go to the server for the other devices."""
        params = SealParams(os.urandom(pwhash.argon2id.SALTBYTES), **cost)
        sealer = cls(_derive(passphrase, params))
        return sealer, replace(params, check=sealer.seal_value(*_CHECK, _CHECK_TEXT))

    @classmethod
    def open(cls, passphrase: str, params: SealParams) -> Sealer:
        """The key for ``passphrase``; raises SealError when it is not the one the data was sealed with."""
        sealer = cls(_derive(passphrase, params))
        if sealer.unseal_value(*_CHECK, params.check) != _CHECK_TEXT:
            raise SealError(CANNOT_READ)
        return sealer

    def seal_value(self, table: str, row_id: str, field: str, value: Any) -> str:
        nonce = os.urandom(NONCE_BYTES)
        plain = json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()
        sealed = crypto_aead_xchacha20poly1305_ietf_encrypt(
            plain, _aad(table, row_id, field), nonce, self._key
        )
        return PREFIX + base64.urlsafe_b64encode(nonce + sealed).decode()

    def unseal_value(self, table: str, row_id: str, field: str, sealed: Any) -> Any:
        if not isinstance(sealed, str) or not sealed.startswith(PREFIX):
            raise SealError(f"{table}.{field} of {row_id} was expected to be encrypted but is not")
        try:
            raw = base64.urlsafe_b64decode(sealed[len(PREFIX) :])
            plain = crypto_aead_xchacha20poly1305_ietf_decrypt(
                raw[NONCE_BYTES:], _aad(table, row_id, field), raw[:NONCE_BYTES], self._key
            )
        except (CryptoError, ValueError):
            raise SealError(CANNOT_READ) from None
        return json.loads(plain)

    def seal(self, op: Operation) -> Operation:
        """The operation as it leaves the device: its sealed fields encrypted."""
        return replace(op, value=self._map(op, self.seal_value))

    def unseal(self, change: Change) -> Change:
        """A pulled change with its sealed fields opened; raises SealError with the wrong key."""
        return replace(change, value=self._map(change, self.unseal_value))

    def _map(self, item: Operation | Change, fn) -> Any:
        sealed = TABLES[item.table].sealed
        if item.kind == "insert":
            return {k: fn(item.table, item.row_id, k, v) if k in sealed else v for k, v in item.value.items()}
        if item.field in sealed:
            return fn(item.table, item.row_id, item.field, item.value)
        return item.value


def _derive(passphrase: str, params: SealParams) -> bytes:
    if not passphrase:
        raise SealError("the sync passphrase is empty")
    return pwhash.argon2id.kdf(32, passphrase.encode(), params.salt, params.opslimit, params.memlimit)


def _aad(table: str, row_id: str, field: str) -> bytes:
    return f"dataelan/{table}/{row_id}/{field}".encode()


def sealer_for(client, passphrase: str, **cost: int) -> Sealer:
    """The account's sealer: opened with the server's parameters, or created (and stored) by the first device.

    ``client`` is a SyncClient (anything with ``seal_params`` and ``set_seal_params``).
    """
    stored = client.seal_params()
    if stored is None:
        sealer, params = Sealer.create(passphrase, **cost)
        stored = client.set_seal_params(params.to_json())  # a device that won a race sets it first
    return Sealer.open(passphrase, SealParams.from_json(stored))
