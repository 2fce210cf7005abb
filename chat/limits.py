"""Rate limits on what anyone on the internet can do: fixed windows counted in Django's cache."""

import ipaddress
import logging
import time

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest

log = logging.getLogger("sealdesk.limits")


def client_address(request: HttpRequest, *, as_network: bool = True) -> str:
    """Return who the client is for rate limits: its address (REMOTE_ADDR, or behind
    FORWARDED_FOR_HOPS trusted proxies the X-Forwarded-For entry the outermost of them appended),
    IPv6 addresses as their /64, since one customer line gets a whole /64 (unless AS_NETWORK is
    false: the audit log keeps the address itself)."""
    hops: int = settings.FORWARDED_FOR_HOPS
    remote = str(request.META.get("REMOTE_ADDR", ""))
    forwarded = request.headers.get("X-Forwarded-For", "")
    if hops:
        entries = [entry.strip() for entry in forwarded.split(",") if entry.strip()]
        if len(entries) >= hops:
            return _network(entries[-hops], as_network) or _network(remote, as_network) or remote
    elif forwarded and not _warned:
        _warn_once()
    return _network(remote, as_network) or remote


_warned = False


def _warn_once() -> None:
    global _warned
    _warned = True
    log.warning(
        "Requests carry X-Forwarded-For but FORWARDED_FOR_HOPS is 0: rate limits count every "
        "client behind the proxy as one. Set FORWARDED_FOR_HOPS to the number of proxies."
    )


def _network(entry: str, as_network: bool = True) -> str:
    """Return ENTRY (an address, perhaps with a port) as the key of its client, or ''."""
    entry = entry.strip()
    if entry.startswith("[") and "]" in entry:  # [v6]:port
        entry = entry[1 : entry.index("]")]
    elif entry.count(":") == 1:  # v4:port
        entry = entry.split(":")[0]
    try:
        address = ipaddress.ip_address(entry)
    except ValueError:
        return ""
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        if not as_network:
            return str(address)
        return str(ipaddress.ip_network(f"{address}/64", strict=False))
    return str(address)


def _now() -> float:
    return time.time()


def hit(scope: str, limits: list[tuple[int, int]]) -> int:
    """Count one more hit on SCOPE against each (LIMIT, WINDOW seconds) of LIMITS; return the
    seconds until the hit would be allowed, 0 if it is (a LIMIT of 0 is no limit)."""
    now = int(_now())
    for limit, window in limits:
        if limit <= 0:
            continue
        key = f"limit:{scope}:{window}:{now // window}"
        cache.add(key, 0, timeout=window + 1)
        try:
            count = cache.incr(key)
        except ValueError:  # expired between add and incr
            cache.set(key, 1, timeout=window + 1)
            count = 1
        if count > limit:
            return window - now % window
    return 0


def chat_start_wait(request: HttpRequest, tenant_id: int) -> int:
    """Count a chat start from this client on this tenant; return seconds to wait, or 0."""
    return hit(
        f"start:{tenant_id}:{client_address(request)}",
        [(settings.CHAT_STARTS_PER_MINUTE, 60), (settings.CHAT_STARTS_PER_HOUR, 3600)],
    )
