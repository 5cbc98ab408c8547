"""Allowed origins for the widget: parsing entries, matching Origin headers, the CSP frame-ancestors value."""

import pytest

from kb.origins import Origin, OriginPattern, OriginPatternError, OriginPolicy, parse_origin, parse_pattern


@pytest.mark.parametrize(("entry", "pattern"), [
    ("https://app.example.com", OriginPattern("https", "app.example.com", 443)),
    ("https://App.Example.com/", OriginPattern("https", "app.example.com", 443)),
    ("http://127.0.0.1:8001", OriginPattern("http", "127.0.0.1", 8001)),
    ("app.example.com", OriginPattern("https", "app.example.com", 443)),
    ("*.example.com", OriginPattern("https", "example.com", 443, wildcard=True)),
    ("http://*.example.com:8080", OriginPattern("http", "example.com", 8080, wildcard=True)),
    ("http://[::1]:8001", OriginPattern("http", "[::1]", 8001)),
])
def test_entries_parse(entry, pattern):
    assert parse_pattern(entry) == pattern


@pytest.mark.parametrize(("entry", "message"), [
    ("ftp://example.com", "starts with https:// or http://"),
    ("https://example.com/app", "without a path"),
    ("https://exa mple.com", "without a path"),
    ("*.com", "a wildcard needs a domain below it"),
    ("https://example.com:http", "the port must be a number"),
    ("https://a.*.example.com", "without a path"),
])
def test_bad_entries_say_what_to_write(entry, message):
    with pytest.raises(OriginPatternError, match=message):
        parse_pattern(entry)


@pytest.mark.parametrize(("value", "origin"), [
    ("https://shop.example", Origin("https", "shop.example", 443)),
    ("https://shop.example:443", Origin("https", "shop.example", 443)),
    ("http://localhost:8001/some/page?x=1", Origin("http", "localhost", 8001)),
    ("null", None),
    ("", None),
    (None, None),
    ("file:///etc/passwd", None),
    ("https://bad:port", None),
])
def test_origins_parse_from_headers_and_urls(value, origin):
    assert parse_origin(value) == origin


POLICY = OriginPolicy.parse("https://shop.example, *.acme.test http://127.0.0.1:8001")


@pytest.mark.parametrize(("origin", "allowed"), [
    ("https://shop.example", True),
    ("https://shop.example:443", True),
    ("http://shop.example", False),  # another scheme is another origin
    ("https://shop.example:8443", False),
    ("https://evil.shop.example", False),
    ("https://eu.acme.test", True),
    ("https://a.b.acme.test", True),
    ("https://acme.test", False),  # *.domain never matches the domain itself
    ("https://evilacme.test", False),
    ("http://127.0.0.1:8001", True),
    ("http://localhost:8001", False),
    ("null", False),
    (None, False),
])
def test_policy_matches_exact_origins_and_subdomain_patterns(origin, allowed):
    assert POLICY.allows(origin) is allowed


def test_frame_ancestors_lists_the_help_center_and_the_allowed_origins():
    assert POLICY.frame_ancestors() == "'self' https://shop.example https://*.acme.test http://127.0.0.1:8001"
    assert OriginPolicy().frame_ancestors() == "'self'"


def test_development_allows_every_real_origin_but_not_null():
    dev = OriginPolicy(allow_all=True)
    assert (dev.allows("https://anything.example"), dev.allows("null"), dev.frame_ancestors()) == (True, False, "*")
