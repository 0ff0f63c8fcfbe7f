"""Every relative link of the documentation reaches a file (and a heading, for ``#anchors``),
except links to the pages listed as pending; every page under docs/ is reachable from the
index."""
from pathlib import Path

from tests.conftest import REPO
from tests.docs.pages import anchors, doc_pages, links

# Pages other work will add; a link to one of them may dangle until then, and only to these.
PENDING = {"docs/deploy.md", "docs/serving.md", "docs/gpu.md", "docs/reproducing_papers.md",
           "docs/results.md"}


def _broken(page: Path) -> list[str]:
    broken = []
    for target in links(page.read_text()):
        if target.startswith(("http://", "https://", "mailto:")):
            continue
        path, _, anchor = target.partition("#")
        if not path:  # a heading of this page
            if anchor not in anchors(page.read_text()):
                broken.append(f"{target} (no such heading)")
            continue
        resolved = (page.parent / path).resolve()
        relative = str(resolved.relative_to(REPO)) if resolved.is_relative_to(REPO) else target
        if not resolved.exists():
            if relative not in PENDING:
                broken.append(f"{target} (no such file)")
        elif anchor and resolved.suffix == ".md" and anchor not in anchors(resolved.read_text()):
            broken.append(f"{target} (no heading '#{anchor}' in {relative})")
    return broken


def test_every_link_resolves():
    broken = {str(page.relative_to(REPO)): found for page in doc_pages()
              if (found := _broken(page))}
    assert not broken, broken


def test_every_docs_page_is_linked_from_the_index():
    index = REPO / "docs/index.md"
    linked = {(index.parent / target.partition("#")[0]).resolve()
              for target in links(index.read_text())}
    orphans = [str(page.relative_to(REPO)) for page in (REPO / "docs").glob("*.md")
               if page != index and page.resolve() not in linked]
    assert not orphans, f"pages docs/index.md does not link: {orphans}"


def test_broken_links_are_found(tmp_path, monkeypatch):
    """The check itself: a missing file, a missing heading and a pending page."""
    page = REPO / "docs/_link_check_probe.md"
    monkeypatch.setattr(Path, "read_text", lambda self, *a, **k: (
        "# Title\n[a](missing.md) [b](index.md#no-such-heading) [c](gpu.md) [d](#title) "
        "[e](#other)\n"
        if self == page else Path.read_bytes(self).decode()))
    assert _broken(page) == ["missing.md (no such file)",
                             "index.md#no-such-heading (no heading '#no-such-heading' in "
                             "docs/index.md)", "#other (no such heading)"]
