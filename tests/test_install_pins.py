"""deploy/constraints.txt: the versions `make install` pins, inside pyproject.toml's ranges."""

from __future__ import annotations

import importlib.metadata
import re
import shlex
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


DOCKERFILE = REPO / "deploy" / "Dockerfile"


def _stages() -> dict[str, list[str]]:
    """deploy/Dockerfile's instructions by stage name (`FROM ... AS name`), continuations joined."""
    stages: dict[str, list[str]] = {}
    current: list[str] = []
    for line in re.sub(r"\\\n\s*", " ", DOCKERFILE.read_text()).splitlines():
        line = line.strip()
        if line.upper().startswith("FROM "):
            current = stages.setdefault(line.split()[-1], [])
        elif line and not line.startswith("#"):
            current.append(line)
    return stages


def _env(instructions: list[str]) -> dict[str, str]:
    return dict(
        word.split("=", 1)
        for line in instructions
        if line.startswith("ENV ")
        for word in shlex.split(line[4:])
    )


def _copied(instructions: list[str], source: str) -> set[str]:
    """Where `source` (a path in the repository, or in another stage) is copied in a stage."""
    return {
        line.split()[-1]
        for line in instructions
        if line.startswith("COPY ") and source in line.split()[1:-1]
    }


def test_the_images_install_the_pinned_versions():
    """Every `pip install` of the images' own interpreter that resolves dependencies is held to
    deploy/constraints.txt, copied into that stage: the image runs what the tests ran. (The kohya
    trainers' virtualenvs keep their own pins; `--no-deps` installs resolve nothing.)"""
    stages = _stages()
    assert {"build", "gpu", "control"} <= stages.keys()
    checked = []
    for name, instructions in stages.items():
        copies = _copied(instructions, "deploy/constraints.txt") | _copied(
            instructions, "/opt/constraints.txt"
        )
        for line in instructions:
            for command in line.removeprefix("RUN ").split("&&"):
                words = shlex.split(command)
                if words[:2] != ["pip", "install"] or "--no-deps" in words:
                    continue
                if words[2:4] == ["--upgrade", "pip"]:
                    continue
                held = {
                    words[i + 1] for i, w in enumerate(words[:-1]) if w in ("-c", "--constraint")
                }
                assert held and held <= copies, f"{name}: {command.strip()} is not pinned"
                checked.append((name, command))
    assert {name for name, _ in checked} == {"build", "gpu", "control"}, checked


def test_the_images_build_the_voice_environment_they_name():
    """The run worker speaks and the review app's quotes count the voice engine's FLOPs: both
    images build scripts/install_voice_env.sh into the folder CHARACTER_VIDEO_VOICE_PYTHON names,
    and import its engine at build time."""
    from pipeline.settings import ENV_VOICE_PYTHON

    for name in ("gpu", "control"):
        instructions = _stages()[name]
        python = _env(instructions)[ENV_VOICE_PYTHON]
        (script,) = _copied(instructions, "scripts/install_voice_env.sh")
        builds = [line for line in instructions if line.startswith("RUN ") and script in line]
        assert len(builds) == 1, (name, builds)
        venv = dict(w.split("=", 1) for w in shlex.split(builds[0][4:]) if "=" in w)["VOICE_VENV"]
        assert python == f"{venv}/bin/python", name
        assert any(
            f'"${ENV_VOICE_PYTHON}" -c "import qwen_tts' in line
            for line in instructions[instructions.index(builds[0]) :]
        ), name


def test_the_control_image_exposes_the_services_ports():
    from test_terraform import config

    found = config()["locals"]
    ports = {
        str(found["review_port"])
        if "review_port" in str(p["containerPort"])
        else p["containerPort"]
        for service in found["services"].values()
        for p in service["ports"]
    }
    exposed = {
        word
        for line in _stages()["control"]
        if line.startswith("EXPOSE ")
        for word in line.split()[1:]
    }
    assert exposed == {str(p) for p in ports}


def test_an_installed_copy_holds_every_file_the_packages_read():
    """The images install the project with `pip install .` (not editable): a file inside a
    package that is not a module reaches the wheel only through `package-data`."""
    import fnmatch
    import subprocess

    setuptools = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]
    listed = subprocess.run(
        ["git", "ls-files", *("pipeline", "assets", "resources")],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    data = [path for path in listed if not path.endswith(".py")]
    assert data  # the FLOP-count seed at least

    def shipped(path: str) -> bool:
        package, _, rest = path.partition("/")
        globs = setuptools.get("package-data", {}).get(package, [])
        return any(fnmatch.fnmatch(rest, pattern) for pattern in globs)

    assert [path for path in data if not shipped(path)] == []


def test_the_images_user_owns_the_folders_it_writes():
    """The images run as an unprivileged user: the Dagster home and the local cache of an S3
    root (where every artifact the webserver, daemon or review app reads is downloaded) are made
    and handed to that user before it takes over; the app folder stays root's."""
    from pipeline.settings import ENV_CACHE

    for name in ("gpu", "control"):
        instructions = _stages()[name]
        env = _env(instructions)
        (user,) = [line.split()[1] for line in instructions if line.startswith("USER ")]
        before = instructions[: instructions.index(f"USER {user}")]
        handed = [
            shlex.split(command)
            for line in before
            for command in line.removeprefix("RUN ").split("&&")
            if shlex.split(command)[:3] == ["chown", "-R", user]
        ]
        owned = {word for command in handed for word in command[3:]}
        for folder in ("DAGSTER_HOME", ENV_CACHE):
            assert f"${folder}" in owned, (name, folder)
            assert env[folder].startswith("/opt/dagster/"), (name, env[folder])
        assert not env[ENV_CACHE].startswith(
            next(line.split()[1] for line in instructions if line.startswith("WORKDIR "))
        )
