"""The video model families, one module each: `family(name)` and `for_transformer(cls)`.

A module of this package named after a family (`VideoModel.family`) defines `FAMILY`. The LoRA
dataset and objectives, the quote's meta-device forward, the generator's pipeline call and the
tiny builders look a family up here; none of them names one. A new family is its registry
entries and one module here (docs/architecture.md, "Adding a model").
"""

from __future__ import annotations

import importlib
import pkgutil
from functools import cache

from resources.families.base import Family

__all__ = ["Family", "families", "family", "for_transformer"]


@cache
def families() -> dict[str, Family]:
    """Every family module of this package, by family name."""
    found: dict[str, Family] = {}
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda i: i.name):
        if info.name == "base":
            continue
        defined = importlib.import_module(f"{__name__}.{info.name}").FAMILY
        if defined.name != info.name:
            raise ValueError(f"resources/families/{info.name}.py defines family {defined.name!r}")
        found[defined.name] = defined
    return found


def family(name: str) -> Family:
    """The family `name`; a clear error naming the known ones otherwise."""
    try:
        return families()[name]
    except KeyError:
        known = ", ".join(sorted(families()))
        raise ValueError(f"unknown model family {name!r}; known: {known}") from None


def for_transformer(cls: str) -> Family:
    """The family whose checkpoints use transformer class `cls`."""
    for found in families().values():
        if cls in found.transformer_classes:
            return found
    raise ValueError(f"no forward recipe for transformer class {cls}")
