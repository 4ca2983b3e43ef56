"""The dependency floors in pyproject.toml exclude releases we know to be unsafe here.

Each entry names releases that a published advisory, or a behaviour this app relies on,
rules out; the declared requirement must not admit any of them.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement

PYPROJECT = Path(__file__).resolve().parent.parent / "pyproject.toml"

RULED_OUT = [
    # CVE-2024-53861: the issuer was compared as a substring.
    ("PyJWT", "2.10.0", "partial issuer match"),
    # Before 2.15 one malformed key in a key set could make the whole set fail to load.
    ("PyJWT", "2.14.0", "one bad key hides the others"),
    # CVE-2024-47081: .netrc credentials sent to other hosts.
    ("requests", "2.32.3", ".netrc credential leak"),
    # CVE-2024-21520: XSS in the browsable API's break_long_headers.
    ("djangorestframework", "3.15.1", "XSS in the browsable API"),
    # Before 3.17.2 JSON bodies were read from the stream, past DATA_UPLOAD_MAX_MEMORY_SIZE.
    ("djangorestframework", "3.17.1", "JSON bodies not bounded by Django's limit"),
    # CVE-2024-22513: tokens of inactive users accepted.
    ("djangorestframework-simplejwt", "5.3.0", "inactive users' tokens accepted"),
    # Releases older than the newest security release of each supported series.
    ("Django", "5.2.18", "older than the latest 5.2 security release"),
    ("Django", "6.0.10", "6.0 series not supported"),
    ("Django", "6.1.2", "older than the latest 6.1 security release"),
]


def declared() -> dict[str, Requirement]:
    project = tomllib.loads(PYPROJECT.read_text())["project"]
    requirements = [Requirement(line) for line in project["dependencies"]]
    return {requirement.name.lower(): requirement for requirement in requirements}


@pytest.mark.parametrize(
    ("package", "version", "why"), RULED_OUT, ids=[f"{p}-{v}" for p, v, _ in RULED_OUT]
)
def test_the_declared_floor_excludes_a_ruled_out_release(
    package: str, version: str, why: str
) -> None:
    requirement = declared()[package.lower()]
    assert not requirement.specifier.contains(version, prereleases=True), why


def test_the_supported_django_series_are_still_admitted() -> None:
    django = declared()["django"].specifier
    assert django.contains("5.2.19")
    assert django.contains("6.1.3")
