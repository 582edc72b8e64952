"""API keys, tenants and owners of the sandbox.

A bare API key is a tenant of its own with one owner. A key given as
``KEY=TENANT:OWNER`` (names, not GUIDs) belongs to the tenant named ``TENANT`` as the
owner named ``OWNER``: two keys naming the same tenant share its activities, each with
its own owner (SPEC §6). All ids are derived (uuid5) from the key or the names, so they
are the same on every run and any test or dev tool can compute them without asking the
server.
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


def tenant_for_names(tenant: str, owner: str) -> Tenant:
    """The ids of the owner named ``owner`` in the tenant named ``tenant``."""
    return Tenant(
        tenant_id=str(uuid.uuid5(_NAMESPACE, f"tenant-name:{tenant}")),
        owner_id=str(uuid.uuid5(_NAMESPACE, f"owner-name:{tenant}:{owner}")),
    )


def parse_key_spec(spec: str) -> tuple[str, Tenant]:
    """``KEY`` or ``KEY=TENANT:OWNER`` into the key and its tenant.

    Raises:
        ValueError: an empty key, or a ``=`` part that is not ``TENANT:OWNER``.
    """
    key, sep, names = spec.partition("=")
    key = key.strip()
    if not key:
        raise ValueError(f"{spec!r}: the API key is empty")
    if not sep:
        return key, tenant_for_key(key)
    tenant, colon, owner = names.partition(":")
    if not colon or not tenant.strip() or not owner.strip():
        raise ValueError(f"{spec!r}: write KEY=TENANT:OWNER, e.g. rk_alice=acme:alice")
    return key, tenant_for_names(tenant.strip(), owner.strip())
