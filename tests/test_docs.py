"""The README and docs/: every relative link and image resolves (to a file, and to a heading when it
names one), and the README stays short enough to read in five minutes."""

import re
from pathlib import Path

import pytest

from tests.conftest import ROOT

PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")
FENCE = re.compile(r"^```.*?^```", re.MULTILINE | re.DOTALL)


def anchors(page: Path) -> set[str]:
    """GitHub's heading ids: lower case, punctuation dropped, spaces as hyphens."""
    headings = re.findall(r"^#+\s+(.+?)\s*$", FENCE.sub("", page.read_text(encoding="utf-8")), re.MULTILINE)
    return {re.sub(r"[^\w\- ]", "", h.lower()).replace(" ", "-") for h in headings}


def links(page: Path) -> list[str]:
    return [
        t for t in LINK.findall(FENCE.sub("", page.read_text(encoding="utf-8"))) if not re.match(r"[a-z]+:", t)
    ]  # http:, https:, mailto: are not checked here


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_resolves(page):
    broken = []
    for target in links(page):
        path, _, anchor = target.partition("#")
        file = (page.parent / path).resolve() if path else page
        if not file.exists():
            broken.append(f"{target}: no such file")
        elif anchor and file.suffix == ".md" and anchor not in anchors(file):
            broken.append(f"{target}: no heading '#{anchor}' in {file.name}")
    assert not broken, f"{page.relative_to(ROOT)}: " + "; ".join(broken)


def test_the_link_check_reads_links_and_headings():
    assert "docs/conll04.md#transfer-to-the-seed-schema" in links(ROOT / "README.md")
    assert "pre-annotation-predict-correct-in-brat-train-on-it" in anchors(ROOT / "docs" / "prediction.md")


def test_readme_is_short_and_links_every_guide():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert len(readme.encode("utf-8")) < 12 * 1024
    for guide in ("training", "evaluation", "prediction", "data", "architecture"):
        assert f"(docs/{guide}.md)" in readme
