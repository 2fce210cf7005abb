"""Limits on what anyone on the internet can do: fixed windows, counted where every process sees
them (Redis in scale-out, the database on the embedded default), each a 429 with Retry-After and
a sentence for the person, and, the first time in its window, an entry in the audit log."""

import ipaddress
import logging
import time
from datetime import timedelta
from typing import Any, TypeVar

from django.conf import settings
from django.core.cache import cache
from django.db import IntegrityError, transaction
from django.db.models import F
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils import timezone
from django.utils.translation import ngettext

from agents.models import Tenant
from chat.models import Conversation, RateCounter

log = logging.getLogger("sealdesk.limits")
R = TypeVar("R", bound=HttpResponse)


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


def _count(key: str, window: int, add: int = 1) -> int:
    """Add ADD to KEY's counter, which lives WINDOW seconds; return its count. In Redis (an
    atomic INCRBY) when the app runs on it, else in the database (an atomic UPDATE): every
    process of either configuration counts the same hits."""
    if settings.REDIS_URL:
        if not add:
            return int(cache.get(key, 0))
        cache.add(key, 0, timeout=window + 1)
        try:
            return int(cache.incr(key, add))
        except ValueError:  # expired between add and incr
            cache.set(key, add, timeout=window + 1)
            return add
    counters = RateCounter.objects.filter(key=key, expires_at__gt=timezone.now())
    if not add:
        return int(counters.values_list("count", flat=True).first() or 0)
    if counters.update(count=F("count") + add):
        return int(counters.values_list("count", flat=True).first() or add)
    expires = timezone.now() + timedelta(seconds=window + 1)
    try:
        with transaction.atomic():
            RateCounter.objects.update_or_create(
                key=key, defaults={"count": add, "expires_at": expires}
            )
    except IntegrityError:  # another process made it meanwhile
        counters.update(count=F("count") + add)
    return int(counters.values_list("count", flat=True).first() or add)


def forget_old_counters() -> int:
    """Drop the database's expired counters; return how many (a chore of chat/sweeper.py)."""
    deleted, _ = RateCounter.objects.filter(expires_at__lte=timezone.now()).delete()
    return deleted


def _windows(scope: str, limits: list[tuple[int, int]]) -> list[tuple[str, int, int, int]]:
    now = int(_now())
    return [
        (f"limit:{scope}:{window}:{now // window}", limit, window, window - now % window)
        for limit, window in limits
        if limit > 0
    ]


def hit(scope: str, limits: list[tuple[int, int]], add: int = 1) -> int:
    """Count ADD more hits on SCOPE against each (LIMIT, WINDOW seconds) of LIMITS; return the
    seconds until the hit would be allowed, 0 if it is (a LIMIT of 0 is no limit). With ADD 0,
    only look: whether SCOPE is over a limit already."""
    for key, limit, window, left in _windows(scope, limits):
        count = _count(key, window, add)
        if count > limit or (not add and count >= limit):
            return left
    return 0


def held(response: R, wait: int) -> R:
    """Make RESPONSE a limit's refusal: 429, and Retry-After saying when to try again."""
    response.status_code = 429
    response["Retry-After"] = str(wait)
    return response


def refusal(sentence: str, wait: int, code: str = "rate_limited") -> JsonResponse:
    """Return the 429 of a limit for an API: the sentence the person reads, and the wait."""
    return held(JsonResponse({"code": code, "detail": sentence, "retry_after": wait}), wait)


def in_words(wait: int) -> str:
    """Return WAIT seconds as a person reads a wait: "in 40 seconds", "in 3 minutes"."""
    if wait < 90:
        return ngettext("in %(n)d second", "in %(n)d seconds", wait) % {"n": wait}
    minutes = (wait + 59) // 60
    if minutes < 90:
        return ngettext("in %(n)d minute", "in %(n)d minutes", minutes) % {"n": minutes}
    hours = (minutes + 59) // 60
    return ngettext("in %(n)d hour", "in %(n)d hours", hours) % {"n": hours}


def note(request: HttpRequest | None, scope: str, window: int, **what: Any) -> None:
    """Tell the audit log that SCOPE's limit refused a request: the first refusal of each
    WINDOW seconds only, so that a flood does not flood the log too."""
    now = int(_now())
    if _count(f"noted:{scope}:{window}:{now // window}", window) == 1:
        from audit.log import record
        from audit.models import Entry

        record(Entry.Action.LIMIT_HIT, request=request, actor=None, **what)


def chat_start_wait(request: HttpRequest, tenant: Tenant) -> tuple[int, str]:
    """Count a chat start from this client on TENANT; return (seconds to wait, which limit) or
    (0, "").

    Three limits: one client address's starts; the tenant's starts from every address together,
    so that many addresses cannot flood one tenant; and a cap on the tenant's chats waiting in
    the queue at once."""
    address = client_address(request)
    mine = [(settings.CHAT_STARTS_PER_MINUTE, 60), (settings.CHAT_STARTS_PER_HOUR, 3600)]
    if wait := hit(f"start:{tenant.pk}:{address}", mine):
        what: dict[str, object] = {"limit": "chat starts from one address", "address": address}
        note(
            request,
            f"start:{tenant.pk}:{address}",
            3600,
            tenant=tenant,
            target=address,
            detail=what,
        )
        return wait, "address"
    everyone = [(settings.TENANT_CHAT_STARTS_PER_MINUTE, 60)]
    if wait := hit(f"tenant-starts:{tenant.pk}", everyone):
        what = {
            "limit": "chat starts per minute",
            "per_minute": settings.TENANT_CHAT_STARTS_PER_MINUTE,
        }
        note(
            request,
            f"tenant-starts:{tenant.pk}",
            600,
            tenant=tenant,
            target=tenant.name,
            detail=what,
        )
        return wait, "tenant"
    cap: int = settings.TENANT_MAX_WAITING_CHATS
    queued = Conversation.objects.filter(tenant=tenant, state=Conversation.State.QUEUED)
    if cap and queued.count() >= cap:
        what = {"limit": "chats waiting at once", "cap": cap}
        note(
            request,
            f"tenant-waiting:{tenant.pk}",
            600,
            tenant=tenant,
            target=tenant.name,
            detail=what,
        )
        return 60, "waiting"
    return 0, ""


def upload_wait(request: HttpRequest, conversation: Conversation) -> int:
    """Count a file begun in CONVERSATION from this client; return seconds to wait, or 0."""
    address = client_address(request)
    checks = [
        (f"uploads:{conversation.pk}", settings.UPLOADS_PER_CONVERSATION_PER_HOUR, "conversation"),
        (f"uploads-from:{address}", settings.UPLOADS_PER_ADDRESS_PER_HOUR, "address"),
    ]
    for scope, limit, which in checks:
        if wait := hit(scope, [(limit, 3600)]):
            what = {"limit": f"files per {which} per hour", "per_hour": limit, "address": address}
            tenant = Tenant.objects.filter(pk=conversation.tenant_id).first()
            note(request, scope, 3600, tenant=tenant, target=address, detail=what)
            return wait
    return 0


def login_wait(request: HttpRequest, username: str) -> int:
    """Return how long sign-ins to USERNAME, or from this client, must wait after too many
    failures, 0 if they may go on; the first refusal of a window goes to the audit log.
    Failures count in login_failed()."""
    window: int = settings.LOGIN_LIMIT_WINDOW
    for scope, limit in _login_scopes(request, username):
        if wait := hit(scope, [(limit, window)], add=0):
            from audit.log import tenant_of_username

            kind = scope.split(":")[0]
            what = {"limit": kind, "failures": limit, "account": username[:150]}
            # An address's limit is the platform's event: it tries accounts of any tenant.
            tenant = tenant_of_username(username) if kind == "login-account" else None
            note(request, scope, window, tenant=tenant, target=username[:150], detail=what)
            return wait
    return 0


def login_failed(request: HttpRequest | None, username: str) -> None:
    """Count a failed sign-in (a wrong password or second factor) to USERNAME from this
    client."""
    if request is None:
        return
    window: int = settings.LOGIN_LIMIT_WINDOW
    for scope, limit in _login_scopes(request, username):
        hit(scope, [(limit, window)])


def _login_scopes(request: HttpRequest, username: str) -> list[tuple[str, int]]:
    account = username.strip().lower()[:150]
    return [
        (f"login-account:{account}", settings.LOGIN_FAILURES_PER_ACCOUNT),
        (f"login-address:{client_address(request)}", settings.LOGIN_FAILURES_PER_ADDRESS),
    ]
