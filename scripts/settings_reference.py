"""Write docs/settings.md from sso_api.conf.SPECS, or check that it is current.

    python scripts/settings_reference.py          # rewrite docs/settings.md
    python scripts/settings_reference.py --check  # exit 1 when it is out of date
"""

from __future__ import annotations

import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sso_api.conf import SPECS  # noqa: E402

TARGET = ROOT / "docs" / "settings.md"

HEADER = """# Settings reference

Every setting is a flat name in your `settings.py`, read when it is used (so
`override_settings` works). Any setting except the three hooks may instead be a callable
that takes the current request and returns the value. Unknown `MICROSOFT_SSO_*` names and
values of the wrong type are reported by `manage.py check` (`sso.E003`, `sso.E004`).

This page is generated from `sso_api/conf.py` by `scripts/settings_reference.py`; a test
fails when the two disagree.

| Setting | Default | Type | Meaning |
|---|---|---|---|
"""


def _default(value: Any) -> str:
    if isinstance(value, timedelta):
        return f"`timedelta(days={value.days})`" if not value.seconds else f"`{value!r}`"
    return f"`{value!r}`"


def _type(types: tuple[type, ...], is_hook: bool) -> str:
    names = ["None" if kind is type(None) else kind.__name__ for kind in types]
    if names == ["list", "tuple"]:
        names = ["list[str]"]
    if is_hook:
        names = ["callable", "dotted path", "None"]
    return " or ".join(names)


def render() -> str:
    rows = [
        f"| `{spec.setting_name}` | {_default(spec.default)} | {_type(spec.types, spec.is_hook)} "
        f"| {spec.doc} |"
        for spec in SPECS
    ]
    return HEADER + "\n".join(rows) + "\n"


def main() -> int:
    content = render()
    if "--check" in sys.argv:
        if not TARGET.exists() or TARGET.read_text() != content:
            print("docs/settings.md is out of date: run python scripts/settings_reference.py")
            return 1
        return 0
    TARGET.parent.mkdir(exist_ok=True)
    TARGET.write_text(content)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
