"""Prompt files (``lamforge/prompts/*.yaml``): the text a model is given lives there, not in code.

    >>> prompt("data", "judge_outcome").format(request=..., actions=..., screen=...)
"""

from __future__ import annotations

from functools import cache
from importlib import resources

import yaml

from lamforge.core.errors import LamforgeError


@cache
def prompt_file(name: str) -> dict[str, str]:
    res = resources.files("lamforge.prompts").joinpath(f"{name}.yaml")
    if not res.is_file():
        raise LamforgeError(f"no prompt file lamforge/prompts/{name}.yaml")
    return yaml.safe_load(res.read_text(encoding="utf-8")) or {}


def prompt(name: str, key: str) -> str:
    found = prompt_file(name)
    if key not in found:
        raise LamforgeError(f"lamforge/prompts/{name}.yaml has no prompt {key!r}; it has {', '.join(found)}")
    return found[key]
