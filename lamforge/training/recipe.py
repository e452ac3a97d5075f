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


def load_recipe(name_or_path: str, overrides: list[str] | None = None, *, env: str | None = None) -> dict[str, Any]:
    """The recipe, its ``extends:`` base merged underneath (section by section), then the environment's
    overlay (``recipes/env/<env>.yaml``: what that environment needs to forge at all), then ``overrides``."""
    recipe = _read(name_or_path, seen=())
    if env is not None and (overlay := env_overlay(env)) is not None:
        recipe = _merge(recipe, overlay)
    for item in overrides or []:
        key, eq, value = item.partition("=")
        if not eq or "." not in key:
            raise RecipeError(f"--set takes section.key=value, got {item!r}")
        section, field = key.split(".", 1)
        recipe.setdefault(section, {})[field] = _value(value)
    check_recipe(recipe)
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
    return _merge(_read(str(sibling) if sibling and sibling.is_file() else str(base), seen + (name_or_path,)), recipe)


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = {**merged[key], **value}
        else:
            merged[key] = value
    return merged


def env_overlay(env: str) -> dict[str, Any] | None:
    """``recipes/env/<short name>.yaml``, the environment's own recipe settings, or None."""
    from lamforge.envs import spec

    res = resources.files("lamforge.training.recipes").joinpath("env", f"{spec(env).short_name}.yaml")
    return (yaml.safe_load(res.read_text(encoding="utf-8")) or {}) if res.is_file() else None


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


def _f(default: Any, help: str, choices: tuple[str, ...] | None = None) -> Any:
    return dataclasses.field(default=default, metadata={"help": help, "choices": choices})


OVERDRAW = 3  # data.family_weights=steps: tasks collected per phase-2 trajectory (collection is cheap)


@dataclasses.dataclass
class DataConfig:
    """The recipe's ``data`` section: how much data each stage gets. ``--budget`` scales the counts
    (``lamforge.forge.budget.SCALED``) down together to fit the machine at hand."""

    expert: str = _f("reference", "collection expert: reference plays the known solution; search knows only the "
                                  "success check and fails on part of the tasks (phase 3 retries them)")
    collect: int = _f(800, "training tasks the expert runs")
    collect_workers: int = _f(2, "worker processes for collection")
    seed: int = _f(0, "seed of the task pool and of every sample drawn from it")
    validation: int = _f(30, "training-side tasks never collected, where settings are chosen")
    plans_evolve: int = _f(1, "rounds of task-plan evolution (composites, rewording)")
    plan_rows: int = _f(120, "task-plan pairs used in phase 1")
    trajectories: int = _f(800, "verified expert trajectories used in phase 2")
    family_weights: str = _f("even", "phase 2's share of each task family: even, or steps (in proportion to "
                                      "its mean episode length; collection then runs 3x the tasks to choose from)",
                             choices=("even", "steps"))
    check_finish: float = _f(1.0, "share of rows that end on the screen after the last action and a bare FINISH")
    plan_dropout: float = _f(0.5, "share of phase 2/3 rows without the plan in the prompt (evaluation runs without)")
    plan_rehearsal: int = _f(24, "task-plan rows mixed into phases 2-3 so planning is not forgotten")
    memory: bool = _f(True, "phases 2-3 write the run's verified trajectories into each model's memory; rows and the "
                            "agent show the most similar other request done before and its actions")
    memory_dropout: float = _f(0.2, "share of phase 2/3 rows that recall nothing (the agent still acts without)")
    detour_share: float = _f(0.0, "share of phase 2's trajectories that are detours (a skipped step, refused, repaired)")
    explore_tasks: int = _f(16, "phase 3: tasks the expert failed (topped up with fresh training tasks)")
    explore_fresh: int = _f(16, "phase 3: more fresh training tasks the expert never ran")
    explore_attempts: int = _f(2, "phase 3: sampled attempts per task")
    explore_temperature: float = _f(0.7, "phase 3: sampling temperature under the action grammar")
    explore_max_steps: int = _f(10, "phase 3: step limit of an attempt")
    explore_workers: int = _f(2, "phase 3: worker processes")
    replay: int = _f(40, "phase 2 trajectories replayed in phase 3")
    reward_trajectories: int = _f(16, "phase 4: trajectories per side (successes / failures) for the reward model")
    ppo_trajectories: int = _f(8, "phase 4: failed exploration attempts PPO trains on")
    kto_examples: int = _f(16, "phase 4: per-step examples for KTO (0 skips it)")

    @property
    def overdraw(self) -> int:
        """Tasks collected per phase-2 trajectory: weighted family shares choose from a larger draw."""
        return 1 if self.family_weights == "even" else OVERDRAW

    def to_collect(self) -> int:
        """Tasks the expert runs."""
        return max(self.collect, self.overdraw * self.trajectories) if self.overdraw > 1 else self.collect

    @classmethod
    def of(cls, recipe: dict[str, Any]) -> DataConfig:
        return build_config(cls, recipe.get("data") or {})


@dataclasses.dataclass
class EvalConfig:
    """The recipe's ``eval`` section: the final comparison on the held-out tasks."""

    tasks: int = _f(60, "held-out tasks in the final comparison (every family, a template never trained on)")
    min_tasks: int = _f(60, "--budget keeps at least these")
    offline_tasks: int | None = _f(20, "teacher-forced offline metrics and plans on this many, evenly spaced (None: all)")
    workers: int = _f(2, "worker processes for the online episodes")
    max_steps: int = _f(7, "step limit of an online episode")

    @classmethod
    def of(cls, recipe: dict[str, Any]) -> EvalConfig:
        return build_config(cls, recipe.get("eval") or {})


# the sections a recipe may have, and the config each is built into (None: a plain value)
SECTIONS = {"base_model": None, "budget": None, "data": DataConfig, "eval": EvalConfig,
            "phase1": "sft", "phase2": "sft", "phase3": "sft", "phase4_reward": "reward", "phase4_ppo": "ppo",
            "phase4_kto": "kto", "tool_calls": "sft"}


def check_recipe(recipe: dict[str, Any]) -> None:
    """Unknown sections, and unknown or mistyped ``data`` / ``eval`` keys, are errors at load time (a typo
    in ``--set`` otherwise only shows as a default silently used)."""
    unknown = sorted(set(recipe) - set(SECTIONS))
    if unknown:
        raise RecipeError(f"unknown recipe section(s) {unknown}; a recipe has {', '.join(SECTIONS)}")
    for name in ("data", "eval"):
        section = recipe.get(name)
        if section is not None and not isinstance(section, dict):
            raise RecipeError(f"recipe section {name!r} must be a mapping, not {section!r}")
        config = SECTIONS[name].of(recipe)
        for f in dataclasses.fields(config):
            value = getattr(config, f.name)
            kind = {"int": int, "float": (int, float), "str": str, "bool": bool}.get(str(f.type))
            # a bool is an int to isinstance: only a bool field takes one
            if kind is not None and not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
                raise RecipeError(f"{name}.{f.name} must be {f.type}, not {value!r}")
            choices = f.metadata.get("choices")
            if choices and value not in choices:
                raise RecipeError(f"{name}.{f.name} must be one of {', '.join(choices)}, not {value!r}")


def build_all(recipe: dict[str, Any], output_dir: str) -> dict[str, Any]:
    """Every section of ``recipe`` built into its config object (what ``lamforge recipe show`` prints and
    a test builds for every shipped recipe): a bad key anywhere fails here, not an hour into a forge."""
    from trl import KTOConfig

    from lamforge.training.ppo import OfflinePPOConfig
    from lamforge.training.reward import RewardConfig
    from lamforge.training.sft import LamSFTConfig

    check_recipe(recipe)
    built: dict[str, Any] = {"data": DataConfig.of(recipe), "eval": EvalConfig.of(recipe)}
    for name, kind in SECTIONS.items():
        if not isinstance(kind, str) or name not in recipe:
            continue
        section = dict(recipe[name])
        if kind == "sft":
            section.pop("no_call_share", None)  # tool_calls' own key, read before the config is built
            built[name] = build_config(LamSFTConfig, section, output_dir=output_dir)
        elif kind == "reward":
            built[name] = build_config(RewardConfig, section, output_dir=output_dir)
        elif kind == "ppo":
            built[name] = build_config(OfflinePPOConfig, section, output_dir=output_dir)
        else:  # KTO: TRL's KTOConfig plus the two keys lamforge reads first (as train_kto does)
            import torch

            section.pop("freeze_layers", None)
            section.pop("threads", None)
            cpu = {} if torch.cuda.is_available() else {"bf16": False, "fp16": False, "use_cpu": True}
            built[name] = build_config(KTOConfig, section, output_dir=output_dir, **cpu)
    return built
