"""Recipes: YAML files whose sections carry the fields of the config dataclasses, overridable with
``--set section.key=value`` on the command line; validated when the config is built."""

from __future__ import annotations

import dataclasses
import re
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from lamforge.core.errors import LamforgeError


class RecipeError(LamforgeError):
    pass


def load_recipe(name_or_path: str, overrides: list[str] | None = None) -> dict[str, Any]:
    """The recipe, its ``extends:`` base merged underneath (section by section), then ``overrides``."""
    recipe = _read(name_or_path, seen=())
    for item in overrides or []:
        key, eq, value = item.partition("=")
        if not eq or "." not in key:
            raise RecipeError(f"--set takes section.key=value, got {item!r}")
        section, field = key.split(".", 1)
        recipe.setdefault(section, {})[field] = _value(value)
    return recipe


def _read(name_or_path: str, seen: tuple[str, ...]) -> dict[str, Any]:
    if name_or_path in seen:
        raise RecipeError(f"recipes extend each other in a circle: {' -> '.join(seen + (name_or_path,))}")
    path = Path(name_or_path)
    if path.suffix in (".yaml", ".yml") and path.is_file():
        text = path.read_text(encoding="utf-8")
    else:
        res = resources.files("lamforge.training.recipes").joinpath(f"{name_or_path}.yaml")
        if not res.is_file():
            known = sorted(p.name.removesuffix(".yaml") for p in resources.files("lamforge.training.recipes").iterdir()
                           if p.name.endswith(".yaml"))
            raise RecipeError(f"no recipe {name_or_path!r}: give a YAML file or one of {', '.join(known)}")
        text = res.read_text(encoding="utf-8")
    try:
        recipe = yaml.safe_load(text) or {}
    except yaml.YAMLError as e:
        raise RecipeError(f"recipe {name_or_path} is not valid YAML: {e}") from e
    if not isinstance(recipe, dict):
        raise RecipeError(f"recipe {name_or_path} must be a mapping of sections, not {type(recipe).__name__}")
    base = recipe.pop("extends", None)
    if base is None:
        return recipe
    # a longer recipe states only what differs from the one it extends: a section's keys override the
    # base's keys one by one, so `phase2: {num_train_epochs: 2}` keeps the base's other phase-2 settings
    sibling = path.parent / str(base) if path.is_file() else None  # a file's base may sit beside it
    merged = _read(str(sibling) if sibling and sibling.is_file() else str(base), seen + (name_or_path,))
    for key, value in recipe.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = {**merged[key], **value}
        else:
            merged[key] = value
    return merged


def _value(text: str) -> Any:
    """A --set value as YAML, except that 2e-5 is a number: YAML 1.1 reads exponents without a dot
    as strings, and a learning rate given as a string fails deep inside the optimizer."""
    value = yaml.safe_load(text)
    if isinstance(value, str) and re.fullmatch(r"[-+]?(\d+\.?\d*|\.\d+)[eE][-+]?\d+", value.strip()):
        return float(value)
    return value


def build_config(cls, section: dict[str, Any], **fixed: Any):
    """``cls(**section, **fixed)`` with a clear error naming unknown keys."""
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(section) - names)
    if unknown:
        raise RecipeError(f"{cls.__name__} has no field(s) {unknown}")
    return cls(**{**section, **fixed})
