"""Parse one Markdown file with YAML front matter into an ``Article``."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Any

import yaml
from slugify import slugify

from kb.models import Article, Link, Section
from kb.render import heading_anchors, internal_link_target, markdown_parser, section_headings, to_text

MAX_FILE_BYTES = 2_000_000
_FRONT_MATTER = re.compile(r"\A---[ \t]*\r?\n(.*?)\r?\n---[ \t]*(?:\r?\n|\Z)", re.DOTALL)
KNOWN_FIELDS = {
    "title", "slug", "category", "section", "description", "tags", "questions", "updated", "draft",
    "position", "id", "redirect_from",
}


class ArticleParseError(Exception):
    """An article file that cannot be published as it is; names the file and, where known, the line."""

    def __init__(self, path: Path, message: str, line: int | None = None) -> None:
        self.path, self.message, self.line = path, message, line
        where = f"{path}:{line}" if line else str(path)
        super().__init__(f"{where}: {message}")


def readable_title(folder: str) -> str:
    """Folder name to a title: "account-and-sign-in" -> "Account and sign-in"; "Store Support" stays."""
    if " " in folder or folder != folder.lower():
        return folder
    words = folder.replace("_", " ").replace("-", " ").strip()
    return words[:1].upper() + words[1:]


def read_text(path: Path) -> str:
    """Read a file as UTF-8 text, refusing empty, binary, huge and non-UTF-8 files with a clear error."""
    data = path.read_bytes()
    if not data.strip():
        raise ArticleParseError(path, "file is empty: an article needs front matter with a title")
    if len(data) > MAX_FILE_BYTES:
        raise ArticleParseError(path, f"file is {len(data):,} bytes; articles are limited to {MAX_FILE_BYTES:,}")
    if b"\x00" in data:
        raise ArticleParseError(path, "file is binary, not Markdown text")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise ArticleParseError(path, f"not valid UTF-8 (byte {exc.start}); save the file as UTF-8", line) from None


def read_front_matter(path: Path, text: str) -> tuple[dict[str, Any], str, int]:
    """(metadata, body, line number where the body starts)."""
    match = _FRONT_MATTER.match(text)
    if not match:
        raise ArticleParseError(path, "no front matter: start the file with '---', a 'title:' line and '---'", 1)
    try:
        meta = yaml.safe_load(match.group(1)) if match.group(1).strip() else {}
    except yaml.YAMLError as exc:
        # The mark where the broken construct began names the line a writer has to fix.
        mark = getattr(exc, "context_mark", None) or getattr(exc, "problem_mark", None)
        line = mark.line + 2 if mark is not None else 2  # +1 for 0-based, +1 for the opening '---'
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ArticleParseError(path, f"front matter is not valid YAML: {problem}", line) from None
    if not isinstance(meta, dict):
        raise ArticleParseError(path, "front matter must be a mapping of 'field: value' lines", 2)
    body_start = text[: match.end()].count("\n") + 1
    return meta, text[match.end():], body_start


def _field_line(text: str, name: str) -> int | None:
    for i, line in enumerate(text.splitlines()[:200], start=1):
        if line.startswith(f"{name}:"):
            return i
    return None


def _str_list(path: Path, text: str, meta: dict[str, Any], name: str) -> tuple[str, ...]:
    value = meta.get(name)
    if value is None:
        return ()
    if isinstance(value, str):
        value = [v for v in (value.split(",") if name != "questions" else [value])]
    if not isinstance(value, list) or not all(isinstance(v, (str, int, float)) for v in value):
        raise ArticleParseError(path, f"'{name}' must be a list of strings", _field_line(text, name))
    return tuple(s for s in (str(v).strip() for v in value) if s)


def _date(path: Path, text: str, value: Any) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value).strip()[:10])
    except ValueError:
        raise ArticleParseError(
            path, f"'updated' must be a date like 2026-01-31, got {value!r}", _field_line(text, "updated")
        ) from None


def split_sections(body: str, title: str, body_start: int) -> tuple[Section, ...]:
    """Split a body at its h2/h3 headings; text before the first heading is the intro (anchor '')."""
    lines = body.splitlines(keepends=True)
    headings = section_headings(markdown_parser().parse(body))
    starts = [tok.map[0] if tok.map else 0 for _, tok, _ in headings]
    anchors = heading_anchors(h for _, _, h in headings)
    sections: list[Section] = []
    intro = "".join(lines[: starts[0] if starts else len(lines)])
    if intro.strip():
        sections.append(Section("", title, 0, intro.strip(), to_text(intro), body_start))
    for i, ((_, tok, heading), anchor) in enumerate(zip(headings, anchors)):
        end = starts[i + 1] if i + 1 < len(starts) else len(lines)
        markdown = "".join(lines[starts[i] + 1 : end]).strip()
        sections.append(Section(anchor, heading, int(tok.tag[1]), markdown, to_text(markdown), body_start + starts[i]))
    return tuple(sections)


def find_links(body: str, body_start: int) -> tuple[Link, ...]:
    """Links in the body that point at other articles by slug, with their line numbers."""
    links = []
    for tok in markdown_parser().parse(body):
        for child in tok.children or ():
            if child.type == "link_open":
                target = internal_link_target(str(child.attrGet("href") or ""))
                if target:
                    links.append(Link(target[0], target[1], body_start + (tok.map[0] if tok.map else 0)))
    return tuple(links)


def parse_article(path: Path, root: Path) -> Article:
    """Parse ``root/<category>/<section>/<file>.md``; folders give the category and section by default.

    Raises ``ArticleParseError`` naming the file (and line) for anything that stops it being published.
    """
    text = read_text(path)
    meta, body, body_start = read_front_matter(path, text)
    title = meta.get("title")
    if not isinstance(title, (str, int, float)) or not str(title).strip():
        raise ArticleParseError(path, "front matter has no 'title'", _field_line(text, "title") or 2)
    title = str(title).strip()
    slug = slugify(str(meta.get("slug") or path.stem))
    if not slug:
        raise ArticleParseError(path, "cannot make a URL slug from the file name; set 'slug:'", 2)

    folders = path.relative_to(root).parts[:-1]
    category_title = str(meta.get("category") or (readable_title(folders[0]) if folders else "General"))
    section_title = meta.get("section") or (readable_title(folders[1]) if len(folders) > 1 else None)
    category = slugify(folders[0]) if folders and not meta.get("category") else slugify(category_title)
    section = None
    if section_title:
        section = slugify(folders[1]) if len(folders) > 1 and not meta.get("section") else slugify(str(section_title))

    position = meta.get("position", 0)
    if not isinstance(position, int) or isinstance(position, bool):
        raise ArticleParseError(path, f"'position' must be a whole number, got {position!r}", _field_line(text, "position"))
    draft = meta.get("draft", False)
    if not isinstance(draft, bool):
        raise ArticleParseError(path, f"'draft' must be true or false, got {draft!r}", _field_line(text, "draft"))
    updated = _date(path, text, meta["updated"]) if meta.get("updated") else dt.datetime.fromtimestamp(
        path.stat().st_mtime, tz=dt.timezone.utc
    ).date()
    external_id = meta.get("id")

    return Article(
        slug=slug,
        title=title,
        path=path,
        category=category,
        category_title=category_title,
        section=section,
        section_title=str(section_title) if section_title else None,
        body=body,
        sections=split_sections(body, title, body_start),
        description=str(meta.get("description") or "").strip(),
        tags=_str_list(path, text, meta, "tags"),
        questions=_str_list(path, text, meta, "questions"),
        updated=updated,
        draft=draft,
        position=position,
        external_id=str(external_id) if external_id is not None else None,
        redirect_from=tuple(slugify(s) for s in _str_list(path, text, meta, "redirect_from")),
        links=find_links(body, body_start),
    )
