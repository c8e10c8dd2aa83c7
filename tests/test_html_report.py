"""The HTML page of an evaluated split: rendered by a real headless browser (Debian's chromium),
holding every gold and predicted entity at its place, with errors marked and all text escaped."""

import os
import shutil
import subprocess
from html.parser import HTMLParser

import pytest

from ie.evaluation.html_report import html_report
from ie.evaluation.predictions import read_predictions

from tests.conftest import SEEDS, TEST_DOC


class _Marks(HTMLParser):
    """The highlighted entities of a page: (side, label, start, end, text, classes)."""

    def __init__(self):
        super().__init__()
        self.marks, self._open, self._in_sub = [], None, False

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "mark" and "data-side" in attrs:
            self._open = [
                attrs["data-side"],
                attrs["data-label"],
                int(attrs["data-start"]),
                int(attrs["data-end"]),
                "",
                attrs["class"],
            ]
        self._in_sub = self._in_sub or (tag == "sub" and self._open is not None)

    def handle_data(self, data):
        if self._open is not None and not self._in_sub:
            self._open[4] += data

    def handle_endtag(self, tag):
        if tag == "sub":
            self._in_sub = False
        if tag == "mark" and self._open is not None:
            self.marks.append(tuple(self._open))
            self._open = None


def _expected_marks(rows):
    text = (SEEDS / f"{TEST_DOC}.txt").read_text(encoding="utf-8")
    out = []
    for row in rows:
        for side, key in (("gold", "gold_entities"), ("pred", "pred_entities")):
            for ent in row[key]:
                a, b = row["word_starts"][ent[0]], row["word_ends"][ent[1] - 1]
                out.append((side, ent[2], a, b, text[a:b]))
    return sorted(out)


def _chromium() -> str:
    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    if exe is None:
        message = "Debian's chromium is not installed (scripts/setup.sh installs it)"
        if os.environ.get("IE_REQUIRE_BROWSER"):
            pytest.fail(message)
        pytest.skip(message)
    return exe


def test_html_report_renders_in_headless_chromium_with_every_entity(run_dir, tmp_path):
    page = run_dir / "metrics.html"  # written by training, like evaluate.py writes eval_<split>.html
    _, rows = read_predictions(run_dir / "predictions_test.jsonl")
    flags = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={tmp_path / 'profile'}",
        "--window-size=1280,1600",
    ]
    dom = subprocess.run(
        [_chromium(), *flags, "--dump-dom", page.as_uri()], capture_output=True, text=True, timeout=120
    )
    assert dom.returncode == 0, dom.stderr[-2000:]
    parser = _Marks()
    parser.feed(dom.stdout)
    assert sorted(m[:5] for m in parser.marks) == _expected_marks(rows)
    assert any(m[0] == "gold" and m[4] == "Denis Manturov" and m[1] == "PER" for m in parser.marks)
    shot = tmp_path / "page.png"
    subprocess.run([_chromium(), *flags, f"--screenshot={shot}", page.as_uri()], capture_output=True, timeout=120)
    assert shot.read_bytes()[:4] == b"\x89PNG" and shot.stat().st_size > 20_000


def test_html_report_marks_errors_and_escapes_text():
    row = {
        "doc_id": "d<1>",
        "sent_index": 0,
        "words": ["<b>Denis", "met", "Rahmon", "&", "Co"],
        "start": 10,
        "end": 34,
        "word_starts": [10, 20, 24, 31, 33],
        "word_ends": [18, 23, 30, 32, 35],
        "gold_entities": [[0, 1, "PER"], [2, 3, "PER"], [3, 5, "ORG"]],
        "gold_relations": [[0, 1, "met_with"]],
        "pred_entities": [[0, 1, "PER", 0.9], [2, 3, "ORG", 0.6]],
        "pred_relations": [[1, 0, "met_with", 0.8]],
    }
    page = html_report({"run": "r", "split": "test"}, [row], ["PER", "ORG"], ["met_with"])
    assert "<b>Denis" not in page and "&lt;b&gt;Denis" in page and "d&lt;1&gt;" in page
    parser = _Marks()
    parser.feed(page)
    classes = {(m[0], m[4]): m[5] for m in parser.marks}
    assert classes == {
        ("gold", "<b>Denis"): "ent",
        ("gold", "Rahmon"): "ent missed",
        ("gold", "& Co"): "ent missed",
        ("pred", "<b>Denis"): "ent",
        ("pred", "Rahmon"): "ent error",
    }
    assert (10, 18) == next(m[2:4] for m in parser.marks if m[0] == "gold")  # document offsets
    assert '<li class="missed" data-side="gold" data-label="met_with">' in page  # Rahmon is not PER there
    assert "<link" not in page and "<script" not in page and "src=" not in page  # self-contained
