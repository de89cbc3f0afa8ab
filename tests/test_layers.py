"""The layers import one way: code location -> assets -> stages -> engines -> domain."""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import MODELS_ENV, REPO

# Lowest first. A module may import its own layer or any layer below it, never one above.
LAYERS = [
    ("domain", ["resources/domain"]),
    ("engines", ["resources"]),
    ("stages", ["assets/stages"]),
    ("assets", ["assets"]),
    ("code location", ["pipeline"]),
]


def _layer(module_path: str) -> int:
    """The layer of a file or dotted module, by the longest matching folder."""
    path = module_path.replace(".", "/")
    best, depth = -1, -1
    for index, (_, folders) in enumerate(LAYERS):
        for folder in folders:
            if (path == folder or path.startswith(folder + "/")) and len(folder) > depth:
                best, depth = index, len(folder)
    return best


def _imports(path: Path) -> list[str]:
    tree = ast.parse(path.read_text())
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append(node.module)
        elif isinstance(node, ast.Import):
            found += [alias.name for alias in node.names]
    return [m for m in found if m.split(".")[0] in ("pipeline", "assets", "resources")]


def test_no_module_imports_a_layer_above_its_own():
    upward = []
    for top in ("pipeline", "assets", "resources"):
        for path in sorted((REPO / top).rglob("*.py")):
            rel = path.relative_to(REPO).with_suffix("").as_posix()
            own = _layer(rel)
            for module in _imports(path):
                if _layer(module) > own:
                    upward.append(f"{rel} imports {module}")
    assert upward == []


def _fresh_interpreter(code: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True, check=True
    )


def _printed_by_a_fresh_interpreter(code: str) -> str:
    return _fresh_interpreter(code).stdout.strip()


def test_the_domain_loads_neither_torch_nor_dagster_nor_any_layer_above():
    code = (
        "import sys, importlib, pkgutil, resources.domain as d\n"
        "for m in pkgutil.iter_modules(d.__path__):\n"
        "    importlib.import_module(f'resources.domain.{m.name}')\n"
        "loaded = {n for n in sys.modules}\n"
        "heavy = {n.split('.')[0] for n in loaded} & {'torch', 'dagster', 'assets', 'pipeline'}\n"
        "above = {n for n in loaded if n.startswith('resources.')"
        " and not n.startswith('resources.domain')}\n"
        "print(sorted(heavy | above))\n"
    )
    assert _printed_by_a_fresh_interpreter(code) == "[]"


def test_importing_the_code_location_loads_no_model_library():
    """The daemon, the webserver's code server and `dagster job launch` import the code location
    and render nothing: diffusers, transformers, peft, spandrel and scipy load where a stage
    loads a model or mixes a master, not at import (torch itself still loads)."""
    code = (
        "import sys, pipeline.definitions\n"
        "heavy = {'diffusers', 'transformers', 'peft', 'spandrel', 'torchvision', 'scipy'}\n"
        "print(sorted(heavy & {name.split('.')[0] for name in sys.modules}))\n"
    )
    assert _printed_by_a_fresh_interpreter(code) == "[]"


COMMANDS = {
    "approve": ["approve", "acme-health", "dr-ana", "references"],
    "reroll": ["reroll", "acme-health", "dr-ana", "intro", "--no-run"],
    "run": ["run", "acme-health", "dr-ana"],
    "accept": ["accept", "acme-health", "dr-ana", "intro", "--by", "ana"],
    "stop": ["stop", "acme-health", "dr-ana", "--who", "ana"],
}


@pytest.fixture(scope="module")
def commands_answered(tmp_path_factory) -> dict[str, dict]:
    """Each command of COMMANDS run by `main` in one fresh interpreter, in turn, on an empty
    root: its status, its stderr, and the model libraries loaded once it answered (a library
    that one command loads is seen at that command: none of them may load one)."""
    root = tmp_path_factory.mktemp("commands") / "root"
    code = (
        "import contextlib, io, json, sys\n"
        "from pipeline.cli import main\n"
        "heavy = {'torch', 'diffusers', 'transformers'}\n"
        "answered = {}\n"
        f"for name, command in {COMMANDS!r}.items():\n"
        "    said = io.StringIO()\n"
        "    with contextlib.redirect_stderr(said):\n"
        f"        status = main(command + ['--root', {str(root)!r}])\n"
        "    loaded = sorted(heavy & {m.split('.')[0] for m in sys.modules})\n"
        "    answered[name] = {'status': status, 'stderr': said.getvalue(), 'loaded': loaded}\n"
        "print(json.dumps(answered))\n"
    )
    return json.loads(_printed_by_a_fresh_interpreter(code).splitlines()[-1])


@pytest.mark.parametrize("command", list(COMMANDS))
def test_a_command_that_runs_no_chain_in_its_process_loads_no_model_library(
    commands_answered, command
):
    """A decision, or a run queued from a brief, answers in about a second: torch, diffusers and
    transformers (~2-4 s of CPU to import) load only where this process renders."""
    answered = commands_answered[command]
    # An empty root: each refuses in one line, after loading all it needs to decide.
    assert (answered["status"], answered["loaded"]) == (1, [])
    first = "acme-health/dr-ana: no run in flight" if command == "stop" else "no finished "
    assert answered["stderr"].startswith(first) and answered["stderr"].count("\n") == 1


def test_validate_loads_neither_dagster_nor_a_model_library(tmp_path):
    """`validate` is the producer's first check and the tests' most frequent command: it reads,
    checks and describes briefs (resources.brief_files, the domain) without the orchestrator
    (~0.7 s of CPU to import). Where the video model's folder is on the machine, its tokenizer
    counts the prompts (transformers); here no folder is, and no model library loads either."""
    code = (
        "import sys\n"
        "from pipeline.cli import main\n"
        "status = main(['validate', 'examples'])\n"
        "heavy = {'dagster', 'torch', 'diffusers', 'transformers'}\n"
        "print(status, sorted(heavy & {name.split('.')[0] for name in sys.modules}))\n"
    )
    env = {**os.environ, MODELS_ENV: str(tmp_path / "no-models")}
    said = _fresh_interpreter(code, env).stdout.strip().splitlines()
    assert said[-1] == "0 []"
    assert sum(": ok (" in line for line in said) == len(list((REPO / "examples").glob("*.yaml")))


def test_stage_modules_never_import_dagster_themselves():
    direct = [
        f"{path.name} imports {module}"
        for path in sorted((REPO / "assets" / "stages").glob("*.py"))
        for module in _all_imports(path)
        if module.split(".")[0] == "dagster"
    ]
    assert direct == []


def _all_imports(path: Path) -> list[str]:
    tree = ast.parse(path.read_text())
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.append(node.module)
        elif isinstance(node, ast.Import):
            found += [alias.name for alias in node.names]
    return found
