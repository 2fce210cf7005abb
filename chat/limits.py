"""Rate limits on what anyone on the internet can do: fixed windows counted in Django's cache."""

import time

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest


def client_address(request: HttpRequest) -> str:
    """Return the client's address: REMOTE_ADDR, or behind FORWARDED_FOR_HOPS trusted proxies
    the entry of X-Forwarded-For that the outermost of them appended."""
    hops: int = settings.FORWARDED_FOR_HOPS
    if hops:
        forwarded = request.headers.get("X-Forwarded-For", "").split(",")
        entries = [entry.strip() for entry in forwarded if entry.strip()]
        if len(entries) >= hops:
            return str(entries[-hops])
    return str(request.META.get("REMOTE_ADDR", ""))


def hit(scope: str, limits: list[tuple[int, int]]) -> int:
    """Count one more hit on SCOPE against each (LIMIT, WINDOW seconds) of LIMITS; return the
    seconds until the hit would be allowed, 0 if it is (a LIMIT of 0 is no limit)."""
    now = int(time.time())
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
