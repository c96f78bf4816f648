"""The SSRF guard: URL parsing, address rules and resolution, checked without any connection."""

import ipaddress

import pytest

from generations.errors import AppError
from generations.url_guard import (
    UrlGuard,
    default_policy,
    forbidden_reason,
    system_resolver,
    validate_url,
)

FORBIDDEN = [
    "127.0.0.1",
    "127.255.255.254",
    "0.0.0.0",
    "0.1.2.3",
    "10.0.0.1",
    "172.16.0.1",
    "172.31.255.255",
    "192.168.1.1",
    "169.254.169.254",  # cloud metadata
    "100.64.0.1",  # carrier-grade NAT
    "192.0.0.8",
    "192.0.2.1",
    "198.18.0.1",
    "198.51.100.7",
    "203.0.113.9",
    "224.0.0.1",
    "239.255.255.250",
    "240.0.0.1",
    "255.255.255.255",
    "::",
    "::1",
    "fc00::1",
    "fd12:3456:789a::1",
    "fe80::1",
    "fec0::1",
    "ff02::1",
    "::ffff:127.0.0.1",
    "::ffff:10.0.0.1",
    "::ffff:169.254.169.254",
    "::127.0.0.1",  # IPv4-compatible
    "::8.8.8.8",  # IPv4-compatible forms are deprecated outright
    "64:ff9b::7f00:1",  # NAT64 of 127.0.0.1
    "64:ff9b::a9fe:a9fe",  # NAT64 of 169.254.169.254
    "64:ff9b:1::1",  # local-use NAT64
    "2002:7f00:1::1",  # 6to4 of 127.0.0.1
    "2002:c0a8:101::1",  # 6to4 of 192.168.1.1
    "2001::1",  # Teredo
    "2001:db8::1",
    "100::1",  # discard-only
    "fe80::1%1",  # link-local with a zone, as getaddrinfo reports it
]
ALLOWED = [
    "8.8.8.8",
    "93.184.215.14",
    "1.1.1.1",
    "2606:4700:4700::1111",
    "2a00:1450:4001:80b::200e",
    "::ffff:8.8.8.8",
    "64:ff9b::808:808",
    "2002:808:808::1",
]


@pytest.mark.parametrize("address", FORBIDDEN)
def test_inner_addresses_are_forbidden(address):
    assert forbidden_reason(ipaddress.ip_address(address)) is not None


@pytest.mark.parametrize("address", ALLOWED)
def test_public_addresses_are_allowed(address):
    assert forbidden_reason(ipaddress.ip_address(address)) is None


def resolver_returning(*addresses):
    calls = []

    async def resolve(host, port):
        calls.append((host, port))
        return list(addresses)

    resolve.calls = calls
    return resolve


async def must_not_resolve(host, port):
    raise AssertionError(f"an address literal was sent to the resolver: {host}")


def guard(resolver=must_not_resolve, allow_private=False):
    return UrlGuard(policy=default_policy(allow_private), resolver=resolver)


async def refusal(url, checker=None):
    with pytest.raises(AppError) as caught:
        await (checker or guard()).check_url(url)
    return caught.value


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/",
        "http://127.1/",
        "http://2130706433/",
        "http://0x7f000001/",
        "http://0x7f.1/",
        "http://0177.0.0.1/",
        "http://0177.1:8080/x",
        "http://127.000.000.001/",
        "http://127.0.0.1./",
        "http://\uff11\uff12\uff17.0.0.1/",  # full-width digits, mapped by IDNA
        "http://[::1]/",
        "http://[::ffff:127.0.0.1]/",
        "http://[::ffff:7f00:1]/",
        "http://[0:0:0:0:0:0:0:1]/",
        "https://[fe80::1]/",
        "http://0/",
        "http://10.1/",
        "http://169.254.169.254/latest/meta-data/",
        "http://0xa9fea9fe/",
        "http://[64:ff9b::a9fe:a9fe]/",
        "HTTP://192.168.0.1:8000/admin",
    ],
)
async def test_address_spellings_are_read_as_a_browser_does_and_refused(url):
    error = await refusal(url)
    assert error.code == "url_forbidden"


async def test_a_name_resolving_to_an_inner_address_is_refused():
    resolve = resolver_returning("10.0.0.7")
    error = await refusal("https://intranet.example/", guard(resolve))
    assert error.code == "url_forbidden"
    assert "10.0.0.7" in error.message
    assert resolve.calls == [("intranet.example", 443)]


async def test_one_inner_address_among_public_ones_refuses_the_host():
    resolve = resolver_returning("93.184.215.14", "::ffff:127.0.0.1")
    assert (await refusal("http://rebind.example/", guard(resolve))).code == "url_forbidden"


async def test_a_public_name_is_allowed_with_its_addresses():
    resolve = resolver_returning("93.184.215.14", "2606:2800:21f:cb07:6820:80da:af6b:8b2c")
    target = await guard(resolve).check_url("https://Example.COM:8443/page?q=1#top")
    assert (target.scheme, target.host, target.port) == ("https", "example.com", 8443)
    assert [str(a) for a in target.addresses] == [
        "93.184.215.14",
        "2606:2800:21f:cb07:6820:80da:af6b:8b2c",
    ]


async def test_an_international_name_is_resolved_in_its_ascii_form():
    resolve = resolver_returning("93.184.215.14")
    await guard(resolve).check_url("https://b\u00fccher.example/")
    assert resolve.calls == [("xn--bcher-kva.example", 443)]


@pytest.mark.parametrize("answer", [OSError("no such host"), []])
async def test_a_name_that_does_not_resolve_is_unreachable(answer):
    async def resolve(host, port):
        if isinstance(answer, Exception):
            raise answer
        return answer

    assert (await refusal("http://nowhere.invalid/", guard(resolve))).code == "url_unreachable"


async def test_the_private_flag_lifts_the_address_rule():
    target = await guard(allow_private=True).check_url("http://127.1:8000/")
    assert [str(a) for a in target.addresses] == ["127.0.0.1"]
    resolve = resolver_returning("10.0.0.7")
    assert (await guard(resolve, allow_private=True).check_url("http://nas.lan/")).addresses


@pytest.mark.parametrize(
    "url",
    [
        None,
        42,
        "",
        "example.com",
        "//example.com/",
        "ftp://example.com/",
        "file:///etc/passwd",
        "javascript:alert(1)",
        "data:text/html,<h1>x</h1>",
        "http://",
        "http:///path",
        "http://user:secret@example.com/",
        "http://user@example.com/",
        "http://example.com\\@127.0.0.1/",
        "http://exa mple.com/",
        "http://example.com/\n",
        "http://ex\tample.com/",
        "http://example.com:99999/",
        "http://example.com:0/",
        "http://example.com:port/",
        "http://[::1/",
        "http://[not-an-ip]/",
        "http://%31%32%37.1/",
        "http://1.2.3.4.5/",
        "http://256.1/",
        "http://1.2.3.0x100/",
        "http://08.1/",
        "http://a..b/",
        "http://" + "a" * 64 + ".example/",
        "https://example.com/" + "a" * 2048,
    ],
)
async def test_malformed_urls_are_invalid(url):
    assert (await refusal(url)).code == "invalid_url"


def test_parsing_alone_never_resolves():
    target = validate_url("https://example.com/")
    assert (target.host, target.port, target.addresses) == ("example.com", 443, ())


async def test_the_system_resolver_answers_off_the_event_loop():
    # localhost is in /etc/hosts: no query leaves the machine.
    addresses = {ipaddress.ip_address(a) for a in await system_resolver("localhost", 80)}
    assert addresses
    assert all(a.is_loopback for a in addresses)
