"""Environment registry: versioned ids ``lamforge/<Name>-v0`` with lazy ``module:Class`` entry
points, registered with Gymnasium itself so ``gymnasium.make("lamforge/Office-v0")`` works too.
Short names (``office``) are accepted wherever an id is."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import gymnasium

from lamforge.core.errors import EnvironmentNotFound


@dataclass(frozen=True)
class EnvSpec:
    id: str
    short_name: str
    entry_point: str
    tasks_module: str
    description: str
    # how prompts name the application the agent drives
    app_name: str = "the application"
    # "module:function" returning {template name: description}: generic task-plan pairs are bound to a
    # template by retrieval over these (None: the templates are described by their names)
    template_descriptions: str | None = None
    # module with the environment's self-instruct function calls (READS, WORDINGS, candidate(rng,
    # template), fingerprint(env)) for ``lamforge collect tool-calls``; None: it has none
    tool_calls: str | None = None


_SPECS: dict[str, EnvSpec] = {}


def register(spec_: EnvSpec) -> None:
    _SPECS[spec_.id] = spec_
    if spec_.id not in gymnasium.registry:
        gymnasium.register(id=spec_.id, entry_point=spec_.entry_point, disable_env_checker=False)


def spec(name: str) -> EnvSpec:
    for s in _SPECS.values():
        if name in (s.id, s.short_name):
            return s
    raise EnvironmentNotFound(
        f"no environment {name!r}; registered: {', '.join(s.short_name for s in _SPECS.values())}"
    )


def all_specs() -> list[EnvSpec]:
    return list(_SPECS.values())


def env_class(name: str) -> type:
    """The environment's class, imported without building an environment (no browser, no server):
    enough to read its ``action_set``."""
    import importlib

    module, _, attr = spec(name).entry_point.partition(":")
    return getattr(importlib.import_module(module), attr)


def action_set_of(name: str):
    return env_class(name).action_set


def make(name: str, **kwargs) -> gymnasium.Env:
    """Build an environment by id or short name; keyword arguments go to its constructor."""
    return gymnasium.make(spec(name).id, **kwargs)


register(
    EnvSpec(
        id="lamforge/Office-v0",
        short_name="office",
        entry_point="lamforge.envs.office.env:OfficeEnv",
        tasks_module="lamforge.envs.office.tasks",
        description="Word-style document application over real .docx files (python-docx).",
        app_name="a word processor",
        template_descriptions="lamforge.envs.office.templates:template_descriptions",
    )
)

register(
    EnvSpec(
        id="lamforge/MiniWoB-v0",
        short_name="miniwob",
        entry_point="lamforge.envs.web.miniwob.env:MiniWoBEnv",
        tasks_module="lamforge.envs.web.miniwob.tasks",
        description="The 125 core MiniWoB++ tasks in a real headless Chromium (Playwright), binary reward.",
        app_name="a web browser",
    )
)

register(
    EnvSpec(
        id="lamforge/Food-v0",
        short_name="food",
        entry_point="lamforge.envs.food.env:FoodEnv",
        tasks_module="lamforge.envs.food.tasks",
        description="A multi-page food-ordering web site (FastAPI + SQLite on loopback) in headless Chromium.",
    )
)

register(
    EnvSpec(
        id="lamforge/Service-v0",
        short_name="service",
        entry_point="lamforge.envs.service.env:ServiceEnv",
        tasks_module="lamforge.envs.service.tasks",
        description="Customer service over a real database (SQLite/PostgreSQL) and label/e-mail HTTP services; "
                    "345-function API catalog.",
        tool_calls="lamforge.envs.service.tool_calls",
    )
)


def template_descriptions(env: str) -> dict[str, str] | None:
    """The environment's own descriptions of its templates (``EnvSpec.template_descriptions``), or None."""
    import importlib

    where = spec(env).template_descriptions
    if where is None:
        return None
    module, _, attr = where.partition(":")
    return getattr(importlib.import_module(module), attr)()


def tool_call_source(env: str):
    """The environment's module of self-instruct function calls (``EnvSpec.tool_calls``)."""
    import importlib

    where = spec(env).tool_calls
    if where is None:
        raise EnvironmentNotFound(f"{spec(env).short_name} has no source of function calls to collect "
                                  "(EnvSpec.tool_calls); `lamforge collect tool-calls` runs on service")
    return importlib.import_module(where)


def manual_dir(env: str) -> Path | None:
    """The environment's help pages (``lamforge/envs/<env>/manual``: task-plan pairs come from them), or None."""
    import inspect

    folder = Path(inspect.getfile(env_class(env))).parent / "manual"
    return folder if folder.is_dir() else None
