"""Credentials at rest: Fernet with a key ring (``RALLY_SLACK_ENCRYPTION_KEYS``).

The first key encrypts; every key decrypts, so keys rotate without downtime: put a new
key first, restart, run ``rally-slack db rotate-keys`` (which re-encrypts every stored
credential with it), then drop the old key. A stored value is ``enc:v1:<fernet token>``,
so an encrypted value is never mistaken for a plain one (nor encrypted twice).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

PREFIX: Final = "enc:v1:"


class CredentialsUnreadable(Exception):
    """A stored credential cannot be decrypted with any configured key."""


class Cipher:
    """Encrypts and decrypts credentials with a ring of Fernet keys."""

    def __init__(self, keys: Sequence[str]) -> None:
        if not keys:
            raise ValueError(
                "RALLY_SLACK_ENCRYPTION_KEYS is empty: set at least one key "
                '(python -c "from cryptography.fernet import Fernet; '
                'print(Fernet.generate_key().decode())")'
            )
        try:
            self._ring = MultiFernet([Fernet(key.strip().encode()) for key in keys])
        except ValueError:
            raise ValueError(
                "RALLY_SLACK_ENCRYPTION_KEYS holds a value that is not a Fernet key "
                "(32 url-safe base64-encoded bytes)"
            ) from None

    def encrypt(self, value: str) -> str:
        """``value`` encrypted with the first key (an already encrypted value is kept)."""
        if is_encrypted(value):
            return value
        return PREFIX + self._ring.encrypt(value.encode()).decode()

    def decrypt(self, value: str) -> str:
        """The plain text of an encrypted value.

        Raises:
            CredentialsUnreadable: not encrypted, or by no key in the ring.
        """
        if not is_encrypted(value):
            raise CredentialsUnreadable("a stored credential is not encrypted")
        try:
            return self._ring.decrypt(value.removeprefix(PREFIX).encode()).decode()
        except InvalidToken:
            raise CredentialsUnreadable(
                "a stored credential was encrypted with a key no longer in "
                "RALLY_SLACK_ENCRYPTION_KEYS"
            ) from None

    def rotate(self, value: str) -> str:
        """``value`` re-encrypted with the first key (plain text is encrypted)."""
        if not is_encrypted(value):
            return self.encrypt(value)
        try:
            return PREFIX + self._ring.rotate(value.removeprefix(PREFIX).encode()).decode()
        except InvalidToken:
            raise CredentialsUnreadable(
                "a stored credential was encrypted with a key no longer in "
                "RALLY_SLACK_ENCRYPTION_KEYS"
            ) from None


def is_encrypted(value: str | None) -> bool:
    return isinstance(value, str) and value.startswith(PREFIX)


def last4(secret: str) -> str:
    """What may be shown of a secret: its last four characters, the rest masked."""
    return "…" + secret[-4:] if len(secret) > 8 else "…"


def new_key() -> str:
    """A fresh Fernet key (for ``rally-slack dev`` and the documented set-up)."""
    return Fernet.generate_key().decode()
