"""Which web origins may embed the chat widget: exact origins or ``*.example.com`` patterns.

One list serves two checks: the browser enforces it as CSP ``frame-ancestors`` on the widget frame,
and the widget API compares each request's ``Origin`` (or ``Referer``) with it.

>>> policy = OriginPolicy.parse("https://app.example.com, *.acme.test, http://127.0.0.1:8001")
>>> policy.allows("https://eu.acme.test"), policy.allows("https://acme.test")
(True, False)
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlsplit

DEFAULT_PORTS = {"http": 80, "https": 443}
_HOST = re.compile(r"^(\*\.)?([a-z0-9-]+(\.[a-z0-9-]+)*|\[[0-9a-f:.]+\])$")


class OriginPatternError(ValueError):
    """An allowed-origins entry is not an origin (``https://host[:port]``) or a ``*.domain`` pattern."""


class OriginNotAllowedError(PermissionError):
    """A request came from a page whose origin is not allowed to use the widget."""


@dataclass(frozen=True)
class Origin:
    """A web origin with its port made explicit (``https://a.b`` and ``https://a.b:443`` are one origin)."""

    scheme: str
    host: str
    port: int

    def __str__(self) -> str:
        default = DEFAULT_PORTS.get(self.scheme) == self.port
        return f"{self.scheme}://{self.host}" + ("" if default else f":{self.port}")


def parse_origin(value: str | None) -> Origin | None:
    """The origin of an ``Origin`` header or any absolute http(s) URL; None for ``null`` or garbage."""
    if not value or value == "null":
        return None
    try:
        parts = urlsplit(value.strip())
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS or not parts.hostname:
        return None
    host = parts.hostname.lower()
    if ":" in host:  # urlsplit drops the brackets of an IPv6 literal
        host = f"[{host}]"
    return Origin(scheme, host, port or DEFAULT_PORTS[scheme])


@dataclass(frozen=True)
class OriginPattern:
    """One allowed-origins entry. ``wildcard`` means any subdomain of ``host``, never ``host`` itself."""

    scheme: str
    host: str
    port: int
    wildcard: bool = False

    def matches(self, origin: Origin) -> bool:
        if origin.scheme != self.scheme or origin.port != self.port:
            return False
        if self.wildcard:
            return origin.host.endswith("." + self.host)
        return origin.host == self.host

    def source(self) -> str:
        """As a CSP source expression (the syntax of ``frame-ancestors``)."""
        return str(Origin(self.scheme, ("*." if self.wildcard else "") + self.host, self.port))


def parse_pattern(entry: str) -> OriginPattern:
    """``https://app.example.com``, ``http://localhost:8001``, ``https://*.example.com``; no scheme means https."""
    text = entry.strip().rstrip("/")
    scheme, sep, rest = text.partition("://")
    if not sep:
        scheme, rest = "https", text
    scheme = scheme.lower()
    if scheme not in DEFAULT_PORTS:
        raise OriginPatternError(f"{entry!r}: an allowed origin starts with https:// or http://")
    host, port_text = rest.lower(), ""
    if host.startswith("[") and "]" in host:  # IPv6 literal, maybe with a port
        end = host.index("]") + 1
        host, port_text = host[:end], host[end:].removeprefix(":")
    elif ":" in host:
        host, _, port_text = host.partition(":")
    if "/" in host or "?" in host or "#" in host or not _HOST.match(host):
        raise OriginPatternError(
            f"{entry!r}: write an origin like https://app.example.com or a pattern like *.example.com, without a path")
    if port_text and not port_text.isdigit():
        raise OriginPatternError(f"{entry!r}: the port must be a number")
    wildcard = host.startswith("*.")
    host = host.removeprefix("*.")
    if wildcard and host.count(".") < 1:
        # "*.com" would let every .com site in: require a registrable domain below the wildcard.
        raise OriginPatternError(f"{entry!r}: a wildcard needs a domain below it, like *.example.com")
    port = int(port_text) if port_text else DEFAULT_PORTS[scheme]
    return OriginPattern(scheme, host, port, wildcard)


def parse_patterns(text: str) -> tuple[OriginPattern, ...]:
    """A comma- or space-separated list of entries (the ``KB_WIDGET_ALLOWED_ORIGINS`` setting)."""
    return tuple(parse_pattern(entry) for entry in re.split(r"[\s,]+", text) if entry.strip())


@dataclass(frozen=True)
class OriginPolicy:
    """Allowed origins; ``allow_all`` (development) lets every page embed the widget."""

    patterns: tuple[OriginPattern, ...] = ()
    allow_all: bool = False

    @classmethod
    def parse(cls, text: str, allow_all: bool = False) -> OriginPolicy:
        return cls(parse_patterns(text), allow_all)

    def allows(self, origin: str | Origin | None) -> bool:
        """Is a page of this origin allowed? ``null`` and unparsable origins never are, even in development."""
        parsed = parse_origin(origin) if isinstance(origin, str) or origin is None else origin
        if parsed is None:
            return False
        return self.allow_all or any(p.matches(parsed) for p in self.patterns)

    def frame_ancestors(self) -> str:
        """The CSP ``frame-ancestors`` value: the help center itself plus every allowed origin."""
        if self.allow_all:
            return "*"
        return " ".join(["'self'", *(p.source() for p in self.patterns)])
