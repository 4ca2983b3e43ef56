"""The layers of docs/architecture.md hold: an import against their direction fails here.

The contracts live in pyproject.toml (``[tool.importlinter]``) and are checked with
import-linter against the real import graph of ``sso_api``.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from importlinter.cli import lint_imports

ROOT = Path(__file__).resolve().parent.parent


def lint(config: Path) -> int:
    # import-linter finds the package through sys.path, which pytest already set up.
    cwd = Path.cwd()
    os.chdir(ROOT)
    try:
        return lint_imports(config_filename=str(config), no_cache=True, no_logo=True)
    finally:
        os.chdir(cwd)


def test_every_module_imports_only_from_the_layers_below_it() -> None:
    assert lint(ROOT / "pyproject.toml") == 0


def test_an_import_against_the_layers_would_be_caught(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # The same check with flows declared *below* policy: flows' real imports of policy are
    # then upward, and the contract must report them.
    config = tmp_path / "inverted.ini"
    config.write_text(
        "[importlinter]\n"
        "root_package = sso_api\n"
        "[importlinter:contract:inverted]\n"
        "name = flows below policy\n"
        "type = layers\n"
        "layers =\n    sso_api.policy\n    sso_api.flows\n"
    )
    assert lint(config) == 1
    assert "sso_api.flows -> sso_api.policy" in capsys.readouterr().out
