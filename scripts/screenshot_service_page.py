"""Regenerate docs/serving_page.png: serve a run with ``python -m ie.serve``, type a news text into its page in
headless chromium (driven as tests/test_service_page.py drives it), press Extract, and save what the page shows.

    .venv/bin/python scripts/screenshot_service_page.py                    # models/quickstart_avx2
    .venv/bin/python scripts/screenshot_service_page.py --run models/<run> --out /tmp/page.png
"""

from __future__ import annotations

import argparse
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from tests.test_service_page import Chromium, extract_on_page  # noqa: E402

# Written for the picture: a person with a post, an event, a date, places, and an agreement between regions.
TEXT = (
    "Russian Deputy Prime Minister Alexei Overchuk and Kazakh Deputy Prime Minister Serik Zhumangarin opened the "
    "Forum of Interregional Cooperation in Omsk on September 12. On its second day the governors of the Omsk "
    "Region and the Pavlodar Region signed an agreement on trade and economic cooperation for 2025-2027."
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until_up(url: str, server: subprocess.Popen, timeout: float = 300) -> None:
    """The run loads before the port opens: poll /v1/health until it answers, or the server exits."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            httpx.get(url + "v1/health", timeout=2).raise_for_status()
            return
        except httpx.TransportError:
            if server.poll() is not None or time.monotonic() > deadline:
                sys.exit(f"screenshot: the service did not come up (exit status {server.poll()})")
            time.sleep(0.5)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", default="models/quickstart_avx2", help="the run to serve (ie.serve run=...)")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "serving_page.png")
    parser.add_argument("--text", default=TEXT)
    args = parser.parse_args()
    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    if exe is None:
        sys.exit("screenshot: Debian's chromium is not installed (scripts/setup.sh installs it)")
    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    server = subprocess.Popen([sys.executable, "-m", "ie.serve", f"run={args.run}", f"port={port}"], cwd=ROOT)
    try:
        wait_until_up(url, server)
        with tempfile.TemporaryDirectory() as profile:
            browser = Chromium(exe, Path(profile))
            try:
                with browser.tab(width=1200, height=900) as tab:
                    view = extract_on_page(tab, url, args.text)
                    tab.wait_for("document.getElementById('legend').children.length > 0")
                    tab.evaluate("document.activeElement.blur()")  # no caret or focus ring in the picture
                    tab.screenshot(args.out)
            finally:
                browser.close()
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=60)
    print(f"{args.out}: {view['status']}")


if __name__ == "__main__":
    main()
