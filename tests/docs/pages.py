"""The documentation the suite checks: which pages, their bash commands and their links."""
from __future__ import annotations

import re
from pathlib import Path

from tests.conftest import REPO


def doc_pages() -> list[Path]:
    """README, changelog, the data guide, docs/ and the model-zoo READMEs."""
    pages = [REPO / "README.md", REPO / "CHANGELOG.md", REPO / "data/README.md"]
    pages += sorted((REPO / "docs").glob("**/*.md"))
    pages += sorted((REPO / "configs").glob("*/README.md"))
    return [page for page in pages if page.is_file()]


def bash_commands(text: str) -> list[str]:
    """The commands of every ```bash block, in order, as written: continuation lines joined,
    runs of spaces collapsed, trailing ``  # comments`` and blank lines dropped."""
    found = []
    for block in re.findall(r"^```bash\n(.*?)^```", text, flags=re.S | re.M):
        for line in block.replace("\\\n", " ").splitlines():
            line = re.sub(r"(^|\s)#\s.*$", "", line)
            line = " ".join(line.split())
            if line:
                found.append(line)
    return found


LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")


def links(text: str) -> list[str]:
    """Targets of inline Markdown links and images, outside code blocks and code spans."""
    text = re.sub(r"^```.*?^```", "", text, flags=re.S | re.M)
    text = re.sub(r"`[^`\n]*`", "", text)
    return LINK.findall(text)


def anchors(text: str) -> set[str]:
    """GitHub's anchors of a page's headings: lower case, punctuation dropped, spaces to '-'."""
    text = re.sub(r"^```.*?^```", "", text, flags=re.S | re.M)
    found = set()
    for heading in re.findall(r"^#{1,6}\s+(.*)$", text, flags=re.M):
        slug = re.sub(r"[^\w\- ]", "", heading.replace("`", "").strip().lower())
        found.add(slug.replace(" ", "-"))
    return found
