"""URLs the pages and the API both hand out."""

from __future__ import annotations

from urllib.parse import urlencode


def click_url(event_id: int, rank: int, slug: str, anchor: str = "") -> str:
    """A result link that records which result of which search was opened, then redirects to it.

    It is a plain link, so clicks are counted with JavaScript off too.
    """
    params: dict[str, str | int] = {"event": event_id, "rank": rank, "slug": slug}
    if anchor:
        params["anchor"] = anchor
    return "/search/click?" + urlencode(params)
