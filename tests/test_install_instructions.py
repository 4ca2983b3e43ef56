"""A project set up exactly as README.md (and the docs' overview) says is complete: its
first ``migrate`` and ``check`` print no warning, sso_api's system checks included.

The settings block is taken from the page itself and added to what ``django-admin
startproject`` writes; its ``...`` in a list stands for what the list already holds.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def install_block(page: Path) -> tuple[str, str]:
    """The page's settings and urls code, from its python block that starts with
    ``# settings.py`` and has a ``# urls.py`` part."""
    blocks = re.findall(r"```python\n(.*?)```", page.read_text(), flags=re.DOTALL)
    [block] = [block for block in blocks if block.startswith("# settings.py\n")]
    settings, urls = block.split("# urls.py\n")
    return settings, urls


def _filled_in(code: str) -> str:
    """``NAME = [..., x]`` as code that runs: ``NAME = [*NAME, x]``."""
    return re.sub(r"(\w+) = \[(\s*)\.\.\.,", r"\1 = [\2*\1,", code)


def manage(project: Path, *command: str) -> subprocess.CompletedProcess[str]:
    env = {name: value for name, value in os.environ.items() if not name.startswith("DJANGO_")}
    return subprocess.run(
        [sys.executable, "-W", "default", "manage.py", *command],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.parametrize("page", ["README.md", "docs/index.md"])
def test_a_project_set_up_as_the_page_says_migrates_and_checks_without_a_warning(
    page: str, tmp_path: Path
) -> None:
    settings, urls = install_block(ROOT / page)
    subprocess.run(
        [sys.executable, "-m", "django", "startproject", "mysite", str(tmp_path)], check=True
    )
    with (tmp_path / "mysite" / "settings.py").open("a") as settings_file:
        settings_file.write("\n" + _filled_in(settings))
    with (tmp_path / "mysite" / "urls.py").open("a") as urls_file:
        urls_file.write("\n" + _filled_in(urls))

    steps = [manage(tmp_path, "migrate")]
    if "DatabaseCache" in settings:
        steps.append(manage(tmp_path, "createcachetable"))
    steps.append(manage(tmp_path, "check", "--fail-level", "WARNING"))

    for step in steps:
        printed = step.stdout + step.stderr
        assert step.returncode == 0, printed
        assert "warning" not in printed.lower(), printed
        assert step.stderr == "", printed
    assert "System check identified no issues" in steps[-1].stdout


def test_the_placeholder_for_what_a_list_holds_is_filled_in() -> None:
    assert _filled_in('X = [\n    ...,\n    "a",\n]') == 'X = [\n    *X,\n    "a",\n]'
    assert _filled_in("urlpatterns = [..., path()]") == "urlpatterns = [*urlpatterns, path()]"
