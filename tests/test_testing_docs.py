"""docs/testing.md names every fixture of the pytest plugin and every method of the driver,
with the signature the code has.

Signatures are read from the source (``ast``), so they read as written there: the
annotations as spelled, string defaults in double quotes.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
TESTING_DOCS = ROOT / "docs" / "testing.md"
PLUGIN = ROOT / "sso_api" / "testing" / "pytest_plugin.py"
DRIVER = ROOT / "sso_api" / "testing" / "client.py"


def documented_text() -> str:
    """The page with its line breaks and indentation folded into single spaces."""
    return " ".join(TESTING_DOCS.read_text().split())


def _default(node: ast.expr) -> str:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return f'"{node.value}"'
    return ast.unparse(node)


def _parameter(argument: ast.arg, default: ast.expr | None) -> str:
    text = argument.arg
    if argument.annotation is not None:
        text += f": {ast.unparse(argument.annotation)}"
    if default is not None:
        text += f" = {_default(default)}" if argument.annotation else f"={_default(default)}"
    return text


def signature(function: ast.FunctionDef, name: str | None = None, *, returns: bool = True) -> str:
    """``name(parameters) -> return`` as the source declares it, without ``self``."""
    arguments = function.args
    positional = [*arguments.posonlyargs, *arguments.args]
    defaults: list[ast.expr | None] = [None] * (len(positional) - len(arguments.defaults))
    parts = [
        _parameter(argument, default)
        for argument, default in zip(positional, [*defaults, *arguments.defaults], strict=True)
        if argument.arg not in ("self", "cls")
    ]
    if arguments.vararg:
        parts.append("*" + _parameter(arguments.vararg, None))
    elif arguments.kwonlyargs:
        parts.append("*")
    parts += [
        _parameter(argument, default)
        for argument, default in zip(arguments.kwonlyargs, arguments.kw_defaults, strict=True)
    ]
    if arguments.kwarg:
        parts.append("**" + _parameter(arguments.kwarg, None))
    text = f"{name or function.name}({', '.join(parts)})"
    if returns and function.returns is not None:
        text += f" -> {ast.unparse(function.returns)}"
    return text


def classes(path: Path) -> dict[str, ast.ClassDef]:
    tree = ast.parse(path.read_text())
    return {node.name: node for node in tree.body if isinstance(node, ast.ClassDef)}


def public_methods(cls: ast.ClassDef) -> list[ast.FunctionDef]:
    return [
        node
        for node in cls.body
        if isinstance(node, ast.FunctionDef) and not node.name.startswith("_")
    ]


def _is_property(function: ast.FunctionDef) -> bool:
    return any(ast.unparse(decorator) == "property" for decorator in function.decorator_list)


def driver_api() -> list[str]:
    """What docs/testing.md must show of ``SignInDriver``, ``SignInAttempt`` and ``Pkce``."""
    found = classes(DRIVER)
    driver, attempt, pkce = found["SignInDriver"], found["SignInAttempt"], found["Pkce"]
    init = next(node for node in driver.body if getattr(node, "name", "") == "__init__")
    assert isinstance(init, ast.FunctionDef)
    expected = [signature(init, "SignInDriver", returns=False)]
    expected += [signature(method) for method in public_methods(driver)]
    for dataclass in (attempt, pkce):
        fields = [
            f"{ast.unparse(node.target)}: {ast.unparse(node.annotation)}"
            for node in dataclass.body
            if isinstance(node, ast.AnnAssign)
        ]
        expected.append(f"{dataclass.name}({', '.join(fields)})")
        if dataclass is attempt:  # its fields are listed one by one, with its properties
            expected += fields
        for method in public_methods(dataclass):
            if _is_property(method):
                assert method.returns is not None
                expected.append(f"{method.name}: {ast.unparse(method.returns)}")
            else:
                expected.append(signature(method, f"{dataclass.name}.{method.name}"))
    return expected


def plugin_fixtures() -> dict[str, ast.FunctionDef]:
    tree = ast.parse(PLUGIN.read_text())
    return {
        node.name: node
        for node in tree.body
        if isinstance(node, ast.FunctionDef)
        and any("pytest.fixture" in ast.unparse(decorator) for decorator in node.decorator_list)
    }


def _scope(fixture: ast.FunctionDef) -> str:
    for decorator in fixture.decorator_list:
        if isinstance(decorator, ast.Call):
            for keyword in decorator.keywords:
                if keyword.arg == "scope":
                    return str(ast.literal_eval(keyword.value))
    return "test"


def factory_signatures() -> list[str]:
    """The functions the factory fixtures return (a nested ``def`` they return)."""
    expected = []
    for name, fixture in plugin_fixtures().items():
        for node in fixture.body:
            if isinstance(node, ast.FunctionDef):
                expected.append(signature(node, name))
    return expected


@pytest.mark.parametrize("declared", driver_api())
def test_every_part_of_the_driver_is_documented_with_its_signature(declared: str) -> None:
    assert f"`{declared}`" in documented_text()


@pytest.mark.parametrize("declared", factory_signatures())
def test_the_functions_fixtures_give_are_documented_with_their_signatures(declared: str) -> None:
    assert f"`{declared}`" in documented_text()


@pytest.mark.parametrize(("name", "fixture"), plugin_fixtures().items(), ids=plugin_fixtures())
def test_every_fixture_of_the_plugin_is_in_the_fixture_table(
    name: str, fixture: ast.FunctionDef
) -> None:
    assert f"| `{name}` | {_scope(fixture)} |" in TESTING_DOCS.read_text()


def test_the_lists_above_are_not_empty() -> None:
    # A refactoring that hid the methods from these readers would otherwise pass silently.
    assert len(driver_api()) >= 15
    assert len(factory_signatures()) == 4
    assert len(plugin_fixtures()) == 10
