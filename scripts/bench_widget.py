"""What the chat widget costs a customer's page: the loader's size, and the panel's on first open.

    python scripts/bench_widget.py

Fetches ``/widget.js`` and the panel (``/widget/frame`` with its CSS and JS, exactly the files the
frame page links) from the app in-process, and prints raw and gzip -9 sizes as a Markdown table.
No index or model is loaded: these responses need neither. The browser test
``tests/test_widget_browser.py::test_the_panel_transfers_little`` checks the same total in Chromium.
"""

from __future__ import annotations

import gzip
import re
import sys
import tempfile
from pathlib import Path

from fastapi.testclient import TestClient

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from kb.settings import Settings  # noqa: E402
from web.app import create_app  # noqa: E402

HOST = "http://127.0.0.1:8001"


def sizes(body: bytes) -> tuple[int, int]:
    return len(body), len(gzip.compress(body, 9, mtime=0))


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(_env_file=None, data_dir=Path(tmp), widget_allowed_origins=HOST)  # type: ignore[call-arg]
        client = TestClient(create_app(settings))  # no `with`: the lifespan (index, model) is not needed
        loader = client.get("/widget.js", headers={"Accept-Encoding": "identity"}).content
        frame = client.get("/widget/frame", params={"host": HOST})
        assets = re.findall(r'(?:href|src)="(/static/widget/[^"]+)"', frame.text)
        rows = [("`/widget.js` (the loader, on every page)", *sizes(loader))]
        panel = [("`/widget/frame` (document)", *sizes(frame.content))]
        panel += [(f"`{url.split('?')[0]}`", *sizes(client.get(url).content)) for url in assets]
    print("| file | bytes | gzip -9 |\n|---|---:|---:|")
    for name, raw, packed in rows + panel:
        print(f"| {name} | {raw:,} | {packed:,} |")
    raw, packed = sum(r for _, r, _ in panel), sum(p for _, _, p in panel)
    print(f"| **panel on first open** (document + CSS + JS) | **{raw:,}** | **{packed:,}** |")


if __name__ == "__main__":
    main()
