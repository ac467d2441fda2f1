"""The address of the client behind a request: REMOTE_ADDR, or what a trusted proxy says it saw.

X-Forwarded-For is a list each proxy appends its peer to, so only its right end can be believed,
and only as far as the peers that wrote it are trusted (TRUSTED_PROXIES): the list is read from
the right while the address in hand is a trusted proxy's. Anything further left, and the whole
header from an untrusted peer, is whatever the client chose to send.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from typing import Any

from django.conf import settings

# A source is stored as "address:<this>" in a 200-character column.
_LONGEST = 100


def client_address(meta: Mapping[str, Any]) -> str:
    """The client's address from a request's META; "unknown" when there is none."""
    address = str(meta.get("REMOTE_ADDR") or "").strip()
    hops = [hop.strip() for hop in str(meta.get("HTTP_X_FORWARDED_FOR") or "").split(",") if hop.strip()]
    while hops and _trusted(address):
        address = hops.pop()
    return address[:_LONGEST] or "unknown"


def _trusted(address: str) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in ipaddress.ip_network(net, strict=False) for net in settings.TRUSTED_PROXIES)
