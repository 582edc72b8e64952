"""slack_sdk's SQLAlchemy installation and OAuth state stores, with every token encrypted.

slack_sdk keeps bot and user tokens (and their refresh tokens) in clear. Here they are
encrypted with :class:`core.secrets.Cipher` on the way in and decrypted on the way out,
so Bolt's OAuth flow, its authorization and token rotation use the store unchanged while
the database only ever holds ciphertext.

``delete_installation`` alone removes installation rows but leaves the team's bot row, and
with it a usable bot token: :meth:`EncryptedInstallationStore.forget` removes both, for
every installation the team ever made.
"""

from __future__ import annotations

import logging
from typing import Any

from slack_sdk.oauth.installation_store import Bot, Installation
from slack_sdk.oauth.installation_store.sqlalchemy import SQLAlchemyInstallationStore
from slack_sdk.oauth.state_store.sqlalchemy import SQLAlchemyOAuthStateStore
from sqlalchemy import Engine

from core.secrets import Cipher, is_encrypted
from core.store import schema

log = logging.getLogger(__name__)

_TOKEN_FIELDS = schema.TOKEN_COLUMNS


class EncryptedInstallationStore(SQLAlchemyInstallationStore):
    """Installations and bots in ``slack_installations``/``slack_bots``, tokens encrypted."""

    def __init__(self, client_id: str, engine: Engine, cipher: Cipher) -> None:
        # Not super().__init__: the tables are the store's own (one MetaData, migrated by
        # Alembic), not a private copy slack_sdk would create.
        self.metadata = schema.metadata
        self.installations = schema.installations_table
        self.bots = schema.bots_table
        self.client_id = client_id
        self.engine = engine
        self._logger = log
        self._cipher = cipher

    # -- in: encrypt ---------------------------------------------------------------------

    def save(self, installation: Installation) -> None:
        super().save(_copy_with(installation, self._encrypted(installation)))

    def save_bot(self, bot: Bot) -> None:
        # Also reached from save() with the installation's (already encrypted) bot.
        super().save_bot(_copy_with(bot, self._encrypted(bot)))

    def _encrypted(self, entity: Any) -> dict[str, Any]:
        return {
            name: self._cipher.encrypt(value)
            for name in _TOKEN_FIELDS
            if isinstance(value := getattr(entity, name, None), str) and value
        }

    # -- out: decrypt --------------------------------------------------------------------

    def build_installation_entity(self, row: Any) -> Installation:  # type: ignore[override]
        installation = super().build_installation_entity(row)
        decrypted: Installation = _copy_with(installation, self._decrypted(installation))
        return decrypted

    def build_bot_entity(self, row: Any) -> Bot:  # type: ignore[override]
        bot = super().build_bot_entity(row)
        decrypted: Bot = _copy_with(bot, self._decrypted(bot))
        return decrypted

    def _decrypted(self, entity: Any) -> dict[str, Any]:
        values = {name: getattr(entity, name, None) for name in _TOKEN_FIELDS}
        return {
            name: self._cipher.decrypt(value)
            for name, value in values.items()
            if isinstance(value, str) and is_encrypted(value)
        }

    # -- uninstall -----------------------------------------------------------------------

    def forget(self, *, enterprise_id: str | None, team_id: str | None) -> None:
        """Delete every installation row and the bot row of a team (its tokens with them)."""
        self.delete_bot(enterprise_id=enterprise_id, team_id=team_id)
        self.delete_installation(enterprise_id=enterprise_id, team_id=team_id, user_id=None)


class StateStore(SQLAlchemyOAuthStateStore):
    """slack_sdk's OAuth state store on the store's own ``slack_oauth_states`` table."""

    def __init__(self, engine: Engine, *, expiration_seconds: int = 600) -> None:
        self.expiration_seconds = expiration_seconds
        self._logger = log
        self.engine = engine
        self.metadata = schema.metadata
        self.oauth_states = schema.oauth_states_table


def _copy_with(entity: Any, changes: dict[str, Any]) -> Any:
    """A shallow copy of a slack_sdk Installation/Bot with some attributes replaced."""
    if not changes:
        return entity
    clone = object.__new__(type(entity))
    clone.__dict__.update(entity.__dict__)
    clone.__dict__.update(changes)
    return clone
