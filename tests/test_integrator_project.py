"""Another project's suite, written as docs/testing.md tells integrators, passes as it is.

``tests/integrator_project`` is a small Django project of its own (``shop``): the README's
settings, an orders API behind simplejwt, and a pytest configuration that turns every
warning into an error and loads nothing by hand. Its test module is the worked example of
docs/testing.md, character for character. It runs here in a subprocess, so that only what
an installed ``sso_api`` brings (the ``pytest11`` entry point) is there to help it.
"""

from __future__ import annotations

import configparser
import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PROJECT = ROOT / "tests" / "integrator_project"
TESTING_DOCS = ROOT / "docs" / "testing.md"
WORKED_EXAMPLE = PROJECT / "tests" / "test_sign_in.py"


def run_integrator_suite(*options: str) -> subprocess.CompletedProcess[str]:
    """``python -m pytest`` in the integrator project, with none of this suite's set-up."""
    # pytest-django reads DJANGO_SETTINGS_MODULE from the environment before the ini file,
    # and this suite's run has set it to tests.settings.
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("DJANGO_", "PYTEST_", "SSO_TEST_"))
    }
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", *options],
        cwd=PROJECT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_the_integrator_suite_is_the_worked_example_of_the_testing_docs() -> None:
    blocks = re.findall(r"```python\n(.*?)```", TESTING_DOCS.read_text(), flags=re.DOTALL)
    examples = [block for block in blocks if block.startswith("# tests/test_sign_in.py\n")]

    assert examples == [WORKED_EXAMPLE.read_text()]


def test_the_integrator_project_loads_the_plugin_only_through_its_entry_point() -> None:
    ini = configparser.ConfigParser()
    ini.read(PROJECT / "pytest.ini")

    assert ini["pytest"]["filterwarnings"].strip() == "error"
    assert "addopts" not in ini["pytest"]
    assert not list(PROJECT.rglob("conftest.py"))
    assert "pytest_plugins" not in WORKED_EXAMPLE.read_text()


def test_the_integrator_suite_passes_with_warnings_as_errors() -> None:
    result = run_integrator_suite()

    assert result.returncode == 0, result.stdout + result.stderr
    assert re.search(r"^4 passed", result.stdout, flags=re.MULTILINE), result.stdout
    assert "warning" not in result.stdout.lower()


def test_without_the_plugins_filter_msal_advice_would_fail_that_suite() -> None:
    # A command-line filter is applied after the ini file's lines and the plugin's, so this
    # run sees msal's warning as the suite would without the plugin's filter. (The filter
    # sso_api.entra.client sets at import shields only the test that imports it: pytest
    # restores the filters after each test.)
    result = run_integrator_suite("-W", "error::UserWarning")

    assert result.returncode == 1, result.stdout + result.stderr
    assert "UserWarning: response_mode='form_post' is recommended" in result.stdout
