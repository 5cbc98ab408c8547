"""Reading rendered pages in tests: elements by tag, class or id, with their attributes and text."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from html.parser import HTMLParser

VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}


@dataclass
class Element:
    tag: str
    attrs: dict[str, str]
    parts: list[str] = field(default_factory=list)
    children: list[Element] = field(default_factory=list)

    @property
    def text(self) -> str:
        return " ".join("".join(self.parts).split())

    @property
    def classes(self) -> list[str]:
        return self.attrs.get("class", "").split()

    def find_all(self, tag: str | None = None, cls: str | None = None, **attrs: str) -> list[Element]:
        found = []
        for child in self.children:
            if _matches(child, tag, cls, attrs):
                found.append(child)
            found.extend(child.find_all(tag, cls, **attrs))
        return found

    def find(self, tag: str | None = None, cls: str | None = None, **attrs: str) -> Element:
        found = self.find_all(tag, cls, **attrs)
        assert found, f"no <{tag or '*'} class={cls!r} {attrs}> in the page"
        return found[0]

    def texts(self, tag: str | None = None, cls: str | None = None, **attrs: str) -> list[str]:
        return [e.text for e in self.find_all(tag, cls, **attrs)]


def _matches(e: Element, tag: str | None, cls: str | None, attrs: dict[str, str]) -> bool:
    if tag and e.tag != tag:
        return False
    if cls and cls not in e.classes:
        return False
    return all(e.attrs.get(k.rstrip("_").replace("_", "-")) == v for k, v in attrs.items())


class _TreeBuilder(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = Element("document", {})
        self.stack = [self.root]

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        element = Element(tag, {k: v or "" for k, v in attrs})
        self.stack[-1].children.append(element)
        if tag not in VOID:
            self.stack.append(element)

    def handle_endtag(self, tag: str) -> None:
        for i in range(len(self.stack) - 1, 0, -1):
            if self.stack[i].tag == tag:
                del self.stack[i:]
                return

    def handle_data(self, data: str) -> None:
        for element in self.stack[1:]:
            element.parts.append(data)


def parse(html: str) -> Element:
    builder = _TreeBuilder()
    builder.feed(html)
    builder.close()
    return builder.root


def json_ld(page: Element) -> dict[str, dict[str, object]]:
    """The page's JSON-LD blocks by ``@type``."""
    blocks = [json.loads("".join(s.parts)) for s in page.find_all("script", type="application/ld+json")]
    return {b["@type"]: b for b in blocks}
