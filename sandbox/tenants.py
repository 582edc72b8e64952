"""API keys, tenants and owners of the sandbox.

Every API key is a tenant of its own with one owner. Both ids are derived from the key
(uuid5), so they are the same on every run and any test or dev tool can compute them
without asking the server.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Final

DEV_API_KEY: Final = "rk_dev_sandbox_local_key"
"""The documented development key, used when no ``--api-key`` is given. Not a secret."""

# A fixed namespace so derived ids never change between releases.
_NAMESPACE: Final = uuid.UUID("6f1d6a52-5c1e-4d0b-9a57-0c2b5a1e7d3f")


@dataclass(frozen=True, slots=True)
class Tenant:
    """The tenant an API key belongs to, and the owner new activities default to."""

    tenant_id: str
    owner_id: str


def tenant_for_key(key: str) -> Tenant:
    """Derive the tenant and owner ids of an API key.

    Args:
        key: The API key, as sent in ``X-Api-Key``.

    Returns:
        The key's tenant, with lower-case GUID strings.
    """
    return Tenant(
        tenant_id=str(uuid.uuid5(_NAMESPACE, f"tenant:{key}")),
        owner_id=str(uuid.uuid5(_NAMESPACE, f"owner:{key}")),
    )
