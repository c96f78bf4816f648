"""Who is asking and what they may do: the login requirement, ownership and the rate limit.

The edges describe the requester; the rules live here, so the socket and REST apply the same
ones. A generation someone may not see answers exactly like one that does not exist.
"""

import hashlib
import hmac
import math
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db.models import QuerySet
from django.utils import timezone

from demo.mode import is_demo_mode
from generations.errors import LOGIN_REQUIRED, RATE_LIMITED, AppError
from generations.models import Generation

RATE_PERIODS = {"second": 1, "minute": 60, "hour": 3600, "day": 86400}
# How the rate limit's message names each period ("You have started 30 generations this hour").
PERIOD_PHRASES = {
    1: "this second",
    60: "this minute",
    3600: "this hour",
    86400: "in the last 24 hours",
}


@dataclass(frozen=True)
class Requester:
    user: object | None  # an authenticated user, or None
    client_key: str  # a keyed hash of the client's address, never the address itself

    @classmethod
    def of(cls, user, address: str | None) -> "Requester":
        authenticated = user is not None and user.is_authenticated
        return cls(user=user if authenticated else None, client_key=client_key(address or ""))

    @classmethod
    def of_request(cls, request) -> "Requester":
        """The requester of a Django or DRF request (pages, the API and the admin alike)."""
        # REMOTE_ADDR is the proxy's address behind one: run daphne with --proxy-headers there.
        return cls.of(request.user, request.META.get("REMOTE_ADDR"))


def client_key(address: str) -> str:
    return hmac.new(settings.SECRET_KEY.encode(), address.encode(), hashlib.sha256).hexdigest()


def require_login(requester: Requester) -> None:
    if settings.CLONEGEN_REQUIRE_LOGIN and requester.user is None:
        raise AppError(LOGIN_REQUIRED)


def visible_to(generations: QuerySet[Generation], requester: Requester) -> QuerySet[Generation]:
    """With login required, each user sees only their own generations; staff see all, so
    the admin's previews and thumbnails of anyone's generation load."""
    require_login(requester)
    if settings.CLONEGEN_REQUIRE_LOGIN and not requester.user.is_staff:
        return generations.filter(owner=requester.user)
    return generations


def parse_rate(raw: str) -> tuple[int, int] | None:
    """Parse "30/hour" into (30, 3600); "off" (or a zero count) means no limit."""
    if raw.strip().lower() in ("", "off", "none"):
        return None
    count, _, period = raw.partition("/")
    try:
        limit, seconds = int(count), RATE_PERIODS[period.strip().lower().rstrip("s")]
    except (ValueError, KeyError):
        raise ValueError(f"CLONEGEN_RATE_LIMIT must look like '30/hour', not {raw!r}") from None
    return (limit, seconds) if limit > 0 else None


def check_rate_limit(requester: Requester) -> None:
    """Refuse a new generation past CLONEGEN_RATE_LIMIT, saying when to try again.

    The count comes from the stored generations themselves, so every process shares it. Demo
    mode is exempt: its stand-in costs nothing, and a first hour of trying it out must not stop.
    """
    rate = parse_rate(settings.CLONEGEN_RATE_LIMIT)
    if rate is None or is_demo_mode():
        return
    limit, seconds = rate
    since = timezone.now() - timedelta(seconds=seconds)
    mine = Generation.objects.filter(created_at__gte=since)
    if requester.user is not None:
        mine = mine.filter(owner=requester.user)
    else:
        mine = mine.filter(owner__isnull=True, client_key=requester.client_key)
    recent = list(mine.order_by("-created_at").values_list("created_at", flat=True)[:limit])
    if len(recent) < limit:
        return
    retry_after = max(
        1,
        math.ceil((recent[-1] + timedelta(seconds=seconds) - timezone.now()).total_seconds()),
    )
    raise AppError(RATE_LIMITED, rate_limit_message(limit, seconds, retry_after), retry_after)


def rate_limit_message(limit: int, seconds: int, retry_after: int) -> str:
    """Return "You have started 30 generations this hour; try again in 54 min." """
    period = PERIOD_PHRASES.get(seconds, f"in the last {format_wait(seconds)}")
    started = f"{limit} generation{'s' if limit != 1 else ''}"
    return f"You have started {started} {period}; try again in {format_wait(retry_after)}."


def format_wait(seconds: int) -> str:
    """Return a wait as a person says it: "45 s", "54 min", "2 h 5 min"."""
    if seconds < 60:
        return f"{seconds} s"
    minutes = math.ceil(seconds / 60)
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min" if minutes else f"{hours} h"
