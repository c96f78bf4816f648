"""The SSRF guard for typed URLs: parse them as a browser would, resolve, refuse inner networks.

A browser connects to whatever its own URL parser makes of a host, so the parser here follows the
WHATWG URL standard where attackers play (`127.1`, `2130706433`, `0x7f000001`, `0177.0.0.1`,
full-width digits, percent-escapes): all of those are read as the address Chromium would dial.
Every address a host resolves to must be public; one inner address refuses the host (so a name
that answers both cannot win by round-robin). `url_proxy` applies the same check to each
connection the page itself opens, to the address actually dialled.
"""

import asyncio
import ipaddress
import re
import socket
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from generations.errors import INVALID_URL, URL_FORBIDDEN, URL_UNREACHABLE, AppError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
# (host, port) -> every address the host resolves to, as text.
Resolver = Callable[[str, int], Awaitable[list[str]]]
# (address, port) -> may a capture connect there?
AddressPolicy = Callable[[IPAddress, int], bool]

MAX_URL_LENGTH = 2048
_DEFAULT_PORTS = {"http": 80, "https": 443}
# Browsers drop tabs and newlines and read a backslash as a slash; Python's parser does
# neither, so a URL holding them would be checked as one URL and fetched as another.
_AMBIGUOUS_CHARS = re.compile(r"[\x00-\x20\x7f\\]|\s")

_FORBIDDEN_V4 = tuple(
    ipaddress.IPv4Network(net)
    for net in (
        "0.0.0.0/8",  # "this network", including the unspecified address
        "10.0.0.0/8",
        "100.64.0.0/10",  # carrier-grade NAT (shared address space)
        "127.0.0.0/8",
        "169.254.0.0/16",  # link-local, cloud metadata services
        "172.16.0.0/12",
        "192.0.0.0/24",  # IETF protocol assignments
        "192.0.2.0/24",  # documentation
        "192.88.99.0/24",  # 6to4 relay anycast
        "192.168.0.0/16",
        "198.18.0.0/15",  # benchmarking
        "198.51.100.0/24",
        "203.0.113.0/24",
        "224.0.0.0/4",  # multicast
        "240.0.0.0/4",  # reserved, and the broadcast address
    )
)
_IPV6_GLOBAL_UNICAST = ipaddress.IPv6Network("2000::/3")
_FORBIDDEN_V6 = tuple(
    ipaddress.IPv6Network(net)
    for net in (
        "2001::/23",  # IETF protocol assignments, Teredo (which hides an IPv4 address) included
        "2001:db8::/32",  # documentation
        "3fff::/20",  # documentation
    )
)
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
_IPV4_COMPATIBLE = ipaddress.IPv6Network("::/96")
_SIX_TO_FOUR = ipaddress.IPv6Network("2002::/16")


def forbidden_reason(address: IPAddress) -> str | None:
    """Return why a capture may not connect to `address`, or None when it is a public address."""
    if isinstance(address, ipaddress.IPv6Address):
        return _forbidden_v6(address)
    if any(address in net for net in _FORBIDDEN_V4):
        return f"{address} is a loopback, private, link-local, multicast or reserved address"
    return None


def _forbidden_v6(address: ipaddress.IPv6Address) -> str | None:
    embedded = _embedded_ipv4(address)
    if embedded is not None:
        reason = forbidden_reason(embedded)
        return reason and f"{address} embeds {embedded}: {reason}"
    if address in _IPV4_COMPATIBLE:
        return f"{address} is an unspecified, loopback or deprecated IPv4-compatible address"
    # Unique-local, site-local, link-local, multicast and every other reserved block lie
    # outside 2000::/3.
    if address not in _IPV6_GLOBAL_UNICAST or any(address in net for net in _FORBIDDEN_V6):
        return f"{address} is a loopback, private, link-local, multicast or reserved address"
    return None


def _embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address that an IPv4-mapped, NAT64 or 6to4 address reaches, if any."""
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    if address in _SIX_TO_FOUR:
        return address.sixtofour
    return None


def parse_ipv4_host(host: str) -> ipaddress.IPv4Address | None:
    """Return the IPv4 address a browser reads in `host`, or None when `host` is a domain name.

    The WHATWG URL standard's rule: a host whose last label is a number is an IPv4 address,
    in one to four parts, each decimal, octal (leading 0) or hex (0x); the last part fills the
    remaining bytes. A host that ends in a number but is no valid address is a malformed URL.
    """
    parts = host.split(".")
    if len(parts) > 1 and parts[-1] == "":
        parts.pop()
    if not _is_number_label(parts[-1]):
        return None
    numbers = [_ipv4_number(part) for part in parts]
    if len(numbers) > 4 or any(n > 255 for n in numbers[:-1]):
        raise AppError(INVALID_URL, f"{host!r} is not a valid IPv4 address.")
    if numbers[-1] >= 256 ** (5 - len(numbers)):
        raise AppError(INVALID_URL, f"{host!r} is not a valid IPv4 address.")
    value = numbers[-1]
    for position, number in enumerate(numbers[:-1]):
        value += number * 256 ** (3 - position)
    return ipaddress.IPv4Address(value)


def _is_number_label(label: str) -> bool:
    return (label.isascii() and label.isdigit()) or bool(re.fullmatch(r"0[xX][0-9A-Fa-f]*", label))


def _ipv4_number(part: str) -> int:
    try:
        if part[:2].lower() == "0x":
            return int(part[2:] or "0", 16)
        if len(part) > 1 and part.startswith("0"):
            return int(part[1:], 8)
        if part.isascii() and part.isdigit():
            return int(part)
    except ValueError:
        pass
    raise AppError(INVALID_URL, f"{part!r} is not a number a browser reads in an address.")


@dataclass(frozen=True)
class Target:
    """A checked URL: its canonical host, port and the addresses that were allowed."""

    url: str
    scheme: str
    host: str
    port: int
    literal: IPAddress | None = None
    addresses: tuple[IPAddress, ...] = field(default=())


def validate_url(url: object) -> Target:
    """Return the parts of a user's URL, or raise `invalid_url`. Pure: nothing is resolved."""
    if not isinstance(url, str) or not url or len(url) > MAX_URL_LENGTH:
        raise AppError(
            INVALID_URL, f"Give an http:// or https:// URL of at most {MAX_URL_LENGTH} characters."
        )
    if _AMBIGUOUS_CHARS.search(url):
        raise AppError(INVALID_URL, "The URL has characters a URL may not contain.")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise AppError(INVALID_URL, f"The URL is malformed: {exc}.") from exc
    if port == 0:
        raise AppError(INVALID_URL, "Port 0 is not a port a page can be served on.")
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS:
        raise AppError(INVALID_URL, "Only http:// and https:// URLs can be captured.")
    if parts.username is not None or parts.password is not None:
        raise AppError(INVALID_URL, "URLs with a user name or password are not captured.")
    host = canonical_host(parts.hostname or "")
    literal = _ip_literal(host)
    return Target(
        url=url, scheme=scheme, host=host, port=port or _DEFAULT_PORTS[scheme], literal=literal
    )


def canonical_host(host: str) -> str:
    """Return the host as a browser dials it: lower-case ASCII (IDNA), IP literals unwrapped."""
    if not host:
        raise AppError(INVALID_URL, "The URL has no host.")
    if "%" in host:
        # Browsers percent-decode hosts (`%31%32%37.1` is 127.0.0.1); no real host needs it.
        raise AppError(INVALID_URL, "Percent-escapes are not allowed in a host.")
    if ":" in host:  # an IPv6 literal, from between the brackets
        return host.lower()
    try:
        # IDNA maps full-width digits and dots to ASCII, as the browser does before reading
        # a host as an address.
        ascii_host = host.encode("idna").decode("ascii").lower().rstrip(".")
    except UnicodeError as exc:
        raise AppError(INVALID_URL, f"{host!r} is not a valid host name.") from exc
    if not ascii_host:
        raise AppError(INVALID_URL, "The URL has no host.")
    return ascii_host


def _ip_literal(host: str) -> IPAddress | None:
    if ":" in host:
        try:
            return ipaddress.IPv6Address(host)
        except ValueError as exc:
            raise AppError(INVALID_URL, f"{host!r} is not a valid IPv6 address.") from exc
    return parse_ipv4_host(host)


async def system_resolver(host: str, port: int) -> list[str]:
    """Resolve `host` with the system resolver, in a worker thread (never on the event loop)."""
    loop = asyncio.get_running_loop()
    infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [info[4][0] for info in infos]


def default_policy(allow_private: bool) -> AddressPolicy:
    """The address rule: public addresses only, unless private ones are allowed (tests, LANs)."""

    def allowed(address: IPAddress, port: int) -> bool:
        return allow_private or forbidden_reason(address) is None

    return allowed


@dataclass(frozen=True)
class UrlGuard:
    """Checks URLs and connection targets; the resolver and the address rule are collaborators."""

    policy: AddressPolicy
    resolver: Resolver = system_resolver

    @classmethod
    def from_settings(cls) -> "UrlGuard":
        from django.conf import settings

        return cls(policy=default_policy(settings.CLONEGEN_URL_ALLOW_PRIVATE))

    async def check_url(self, url: object) -> Target:
        """Return the checked target of a user's URL; raise invalid_url, url_forbidden or
        url_unreachable (the host does not resolve). Nothing connects to the host."""
        target = validate_url(url)
        addresses = await self.allowed_addresses(target.host, target.port, target.literal)
        return Target(**{**target.__dict__, "addresses": tuple(addresses)})

    async def allowed_addresses(
        self, host: str, port: int, literal: IPAddress | None = None
    ) -> list[IPAddress]:
        """Return every address `host` resolves to, if all are allowed; else raise."""
        if literal is None:
            literal = _ip_literal(host)
        addresses = [literal] if literal is not None else await self._resolve(host, port)
        self._refuse_any(host, port, addresses)
        return addresses

    async def _resolve(self, host: str, port: int) -> list[IPAddress]:
        try:
            found = await self.resolver(host, port)
        except (OSError, UnicodeError) as exc:
            raise AppError(URL_UNREACHABLE, f"{host} could not be resolved.") from exc
        addresses = list(dict.fromkeys(ipaddress.ip_address(a) for a in found))
        if not addresses:
            raise AppError(URL_UNREACHABLE, f"{host} could not be resolved.")
        return addresses

    def _refuse_any(self, host: str, port: int, addresses: Iterable[IPAddress]) -> None:
        for address in addresses:
            if not self.policy(address, port):
                reason = forbidden_reason(address) or f"{address} port {port} is not allowed"
                raise AppError(URL_FORBIDDEN, f"{host} is refused: {reason}.")
