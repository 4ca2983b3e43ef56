"""The documentation site renders every list whole and fetches nothing from the internet.

Python-Markdown, which MkDocs uses, keeps a block inside a list item only when it is
indented by four spaces. A fenced code block indented by three (after ``1. ``) or two
(after ``- ``) ends the list instead: the code lands outside it, and the next item starts
a new list that the browser numbers from 1 again. Two checks catch that, and a broken
sample proves that each one does:

* every page is rendered with the extensions of ``mkdocs.yml``, with the numbering of
  each ordered list kept (Python-Markdown drops it by default): an ``<ol start="N">`` is a
  list that was cut in two, and an item number at the start of a paragraph's line is an
  item swallowed by the paragraph before it;
* no fenced code block opens with one to three spaces of indentation, which is never
  inside a list item for Python-Markdown, and pointless outside one.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import markdown
import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
DOCS = sorted((ROOT / "docs").glob("*.md"))

BROKEN_SAMPLE = """\
Steps:

1. Allow the app's return address:

   ```python
   MICROSOFT_SSO_ALLOWED_REDIRECT_URLS = ["myapp://auth"]
   ```

2. Make a PKCE pair.
3. Open the URL:

   ```
   https://api.example.com/api/sso/start/
   ```

   The answer is a redirect.
4. The callback redirects to the app.
"""
# The same list as Python-Markdown wants it: blocks inside items indented by four spaces,
# and a blank line before an item that follows such a block.
WHOLE_SAMPLE = re.sub(r"^   (?=\S)", "    ", BROKEN_SAMPLE, flags=re.MULTILINE).replace(
    "redirect.\n4.", "redirect.\n\n4."
)


class _AnyTagLoader(yaml.SafeLoader):
    """Reads mkdocs.yml, whose ``!!python/name:`` tags name objects this test needs not."""


_AnyTagLoader.add_multi_constructor("", lambda loader, suffix, node: None)


def _markdown_extensions() -> tuple[list[str], dict[str, Any]]:
    config = yaml.load((ROOT / "mkdocs.yml").read_text(), Loader=_AnyTagLoader)  # noqa: S506
    # MkDocs always adds these three to the configured ones.
    names, options = ["toc", "tables", "fenced_code"], {}
    for entry in config.get("markdown_extensions", []):
        name, settings = next(iter(entry.items())) if isinstance(entry, dict) else (entry, None)
        if name not in names:
            names.append(name)
        options[name] = settings or {}
    if "pymdownx.superfences" in names:
        names.remove("fenced_code")  # superfences replaces it, as in MkDocs
    return names, options


def render(text: str) -> str:
    """``text`` as MkDocs renders it, except that ordered lists keep their start number."""
    names, options = _markdown_extensions()
    renderer = markdown.Markdown(extensions=names, extension_configs=options)
    renderer.parser.blockprocessors["olist"].LAZY_OL = False
    return str(renderer.convert(text))


def broken_lists(text: str) -> list[str]:
    """Where the rendered ``text`` shows a numbered list cut in two."""
    html = render(text)
    problems = [f"list restarted at {start}" for start in re.findall(r'<ol start="(\d+)"', html)]
    for paragraph in re.findall(r"<p>(.*?)</p>", html, flags=re.DOTALL):
        problems += [
            f"item {number} swallowed by a paragraph"
            for number in re.findall(r"\n\s*(\d+)\. ", paragraph)
        ]
    return problems


def underindented_fences(text: str) -> list[int]:
    """Line numbers of fences that open with one to three spaces of indentation."""
    lines, found, open_fence = text.splitlines(), [], None
    for number, line in enumerate(lines, start=1):
        match = re.match(r"^( *)(```|~~~)", line)
        if not match:
            continue
        if open_fence is None:
            open_fence = match.group(2)
            if 1 <= len(match.group(1)) <= 3:
                found.append(number)
        elif match.group(2) == open_fence:
            open_fence = None
    return found


def test_the_checks_catch_a_list_broken_by_a_code_block() -> None:
    assert broken_lists(BROKEN_SAMPLE) == ["list restarted at 2", "item 4 swallowed by a paragraph"]
    assert underindented_fences(BROKEN_SAMPLE) == [5, 12]
    assert broken_lists(WHOLE_SAMPLE) == []
    assert underindented_fences(WHOLE_SAMPLE) == []


@pytest.mark.parametrize("page", DOCS, ids=[page.name for page in DOCS])
def test_no_list_of_the_page_is_broken_by_a_code_block(page: Path) -> None:
    text = page.read_text()

    assert broken_lists(text) == []
    assert underindented_fences(text) == []


def test_the_built_site_fetches_no_fonts_and_nothing_from_another_site(tmp_path: Path) -> None:
    built = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--quiet", "-d", str(tmp_path)],
        cwd=ROOT,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert built.returncode == 0, built.stderr
    pages = list(tmp_path.rglob("*.html"))
    assert len(pages) >= len(DOCS)

    for page in pages:
        html = page.read_text()
        assert "fonts.googleapis.com" not in html, page
        assert "fonts.gstatic.com" not in html, page
        # Stylesheets, scripts and images all come from the site itself.
        fetched = re.findall(r"<(?:link|script|img)\b[^>]*\b(?:href|src)=\"(https?:)?//", html)
        assert fetched == [], page


def test_every_error_code_of_the_schema_is_explained_in_the_security_page() -> None:
    from sso_api.schema import ERROR_CODE_CHOICES

    page = (ROOT / "docs" / "security.md").read_text(encoding="utf-8")

    assert [code for code in ERROR_CODE_CHOICES if f"`{code}`" not in page] == []
