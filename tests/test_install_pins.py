"""deploy/constraints.txt: the versions `make install` pins, inside pyproject.toml's ranges."""

from __future__ import annotations

import importlib.metadata
import tomllib

from conftest import REPO
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

CONSTRAINTS = REPO / "deploy" / "constraints.txt"


def _pins() -> dict[str, str]:
    pins = {}
    for line in CONSTRAINTS.read_text().splitlines():
        if line and not line.startswith("#"):
            name, _, version = line.partition("==")
            pins[canonicalize_name(name)] = version
    return pins


def _requirements() -> list[Requirement]:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    extras = project["optional-dependencies"]
    named = project["dependencies"] + extras["dev"] + extras["ui-test"] + extras["aws"]
    own = canonicalize_name(project["name"])
    return [r for r in map(Requirement, named) if canonicalize_name(r.name) != own]


def test_every_requirement_is_pinned_inside_its_range():
    pins = _pins()
    for requirement in _requirements():
        name = canonicalize_name(requirement.name)
        assert name in pins, f"{requirement.name} has no pin: run `make constraints`"
        assert requirement.specifier.contains(pins[name], prereleases=True), (
            f"{requirement.name}=={pins[name]} is outside {requirement.specifier}: "
            "run `make constraints`"
        )


def test_the_environment_the_tests_run_in_has_the_pinned_versions():
    """`make install` installed with the pins: what runs is what is written down (a pyproject
    change without `make constraints` shows here as the first difference)."""
    pins = _pins()
    installed = {
        canonicalize_name(d.metadata["Name"]): d.version for d in importlib.metadata.distributions()
    }
    differ = {
        name: (pinned, installed[name])
        for name, pinned in pins.items()
        if name in installed and installed[name].split("+")[0] != pinned.split("+")[0]
    }
    assert differ == {}
    assert pins.keys() <= installed.keys()
