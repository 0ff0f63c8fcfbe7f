"""What ``pip install -e .`` installs covers what the package imports: every third-party module
imported under flexseg/ comes from a distribution that pyproject.toml declares (directly, or as
a requirement of one; an optional extra's for the modules that extra serves), and the test
runner is an extra, not a runtime requirement."""
import ast
import re
import sys
import tomllib
from importlib import metadata

from tests.conftest import REPO


def _name(requirement: str) -> str:
    return re.split(r"[\s<>=!~;\[(]", requirement, maxsplit=1)[0].lower().replace("_", "-")


def _closure(names: set[str]) -> set[str]:
    """The distributions and everything they require, recursively (installed ones only)."""
    seen, todo = set(), list(names)
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        try:
            requires = metadata.requires(name) or []
        except metadata.PackageNotFoundError:
            continue
        todo += [_name(r) for r in requires if "extra ==" not in r]
    return seen


def _imported_modules() -> set[str]:
    modules = set()
    for path in (REPO / "flexseg").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                modules |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                modules.add(node.module.split(".")[0])
    return {m for m in modules if m not in sys.stdlib_module_names and m != "flexseg"}


def test_every_imported_module_comes_from_a_declared_distribution():
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    declared = {_name(r) for r in project["dependencies"]}
    extras = {_name(r) for group in project.get("optional-dependencies", {}).values()
              for r in group}
    provided = _closure(declared | extras)
    providers = metadata.packages_distributions()
    missing = {module: providers.get(module) for module in _imported_modules()
               if not {_name(d) for d in providers.get(module, [])} & provided}
    assert not missing, f"imported but not declared in pyproject.toml: {missing}"


def test_pytest_is_a_test_extra_not_a_runtime_requirement():
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    assert "pytest" not in {_name(r) for r in project["dependencies"]}
    assert "pytest" in {_name(r) for r in project["optional-dependencies"]["test"]}
    assert "pytest" not in (REPO / "requirements.txt").read_text().split()
