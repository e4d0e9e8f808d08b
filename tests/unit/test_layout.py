"""What ships and what does not: the image carries services/ and gateway/
only, so nothing in them may need the developer tooling (devkit/) or tests."""
import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_nothing_that_ships_imports_the_developer_tooling():
    offenders = []
    for package in ("services", "gateway"):
        for path in (ROOT / package).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                names = ([alias.name for alias in node.names] if isinstance(node, ast.Import)
                         else [node.module or ""] if isinstance(node, ast.ImportFrom) and not node.level else [])
                offenders += [f"{path.relative_to(ROOT)}: {name}" for name in names
                              if name.split(".")[0] in ("devkit", "tests", "support")]
    assert offenders == []


def test_the_installed_packages_are_services_and_gateway_only():
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert project["tool"]["setuptools"]["packages"]["find"]["include"] == ["services*", "gateway*"]
    assert not (ROOT / "services" / "common" / "testing").exists()
