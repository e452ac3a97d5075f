"""One way to get an agent from a name, for every stage (collection, exploration, evaluation, the
terminal, the forge's measurement).

    lamforge run --env office --agent expert --task bold_text          # make_agent("reference", env)
    lamforge eval --run runs/office --models lam2,openai:gpt-4o-mini    # make_agent(path or "openai:NAME", env)

Kinds: ``reference`` (alias ``expert``: the task's reference solution), ``detour`` (the reference with
one skipped step and its repair), ``search`` (best-first search over the environment's own moves; it
needs a live environment), ``human`` (the terminal), ``tree`` (DFSDT over a model's proposals) or a
model (a base or forged name, a folder, or ``openai:NAME``), run as a ReAct agent.

A process keeps one backend and one prefix-caching decoder per model: worker processes build their
agent once per episode, and reloading weights each time would cost more than the episode.
"""

from __future__ import annotations

from typing import Any

from lamforge.agents.base import Agent
from lamforge.core.errors import LamforgeError

EXPERTS = ("reference", "expert", "detour", "search", "human")
_LOADED: dict[tuple[str, str], Any] = {}  # (kind, model spec + options) -> backend or decoder, per process


def _cached(kind: str, key: str, build) -> Any:
    if (kind, key) not in _LOADED:
        # one model at a time per process: collection, then exploration with the next model
        for old in [k for k in _LOADED if k[0] == kind]:
            del _LOADED[old]
        _LOADED[(kind, key)] = build()
    return _LOADED[(kind, key)]


def load_model(spec: str, base_url: str | None = None):
    """The backend of a model name, folder or ``openai:NAME``, loaded once per process."""
    from lamforge.models import load_backend

    kwargs = {"base_url": base_url} if base_url else {}
    return _cached("backend", f"{spec}|{base_url}", lambda: load_backend(spec, **kwargs))


def make_agent(spec: str, env: Any = "office", *, planning: str = "off", temperature: float = 0.0,
               seed: int | None = None, decoding: str = "constrained", base_url: str | None = None,
               model: str | None = None, memory: bool = True) -> Agent:
    """An agent of kind ``spec`` for ``env`` (an environment, or its name where no live one is needed).
    ``temperature > 0`` samples a model's actions (self-boosting exploration); ``planning``: off, start
    or dynamic; ``model``: the model behind ``tree``; ``memory``: a model recalls from the memory its
    folder keeps, if any."""
    if spec in ("reference", "expert"):
        from lamforge.agents.expert import ReferenceExpert

        return ReferenceExpert()
    if spec == "detour":
        from lamforge.agents.expert import DetourExpert

        return DetourExpert()
    action_set = _action_set(env)
    if spec == "human":
        from lamforge.agents.human import HumanAgent

        return HumanAgent(action_set)
    if spec in ("search", "tree"):
        if isinstance(env, str):
            raise LamforgeError(f"the {spec} agent searches a live environment: pass one, not the name {env!r}")
        if spec == "search":
            from lamforge.agents.search_expert import SearchExpert

            return SearchExpert(env)
        from lamforge.agents.tree_search import TreeSearchAgent

        return TreeSearchAgent(env, load_model(model or "smollm2-135m", base_url), action_set, decoding=decoding)
    from lamforge.agents.react import ReactAgent

    backend = load_model(spec, base_url)
    decoder = None
    if getattr(backend, "local", False) and decoding == "constrained":
        # one decoder per process and model: its prefix cache carries over from episode to episode
        from lamforge.models.decoding import Decoder

        decoder = _cached("decoder", spec, lambda: Decoder(backend.model, backend.tokenizer))
    return ReactAgent(backend, action_set, planning=planning, temperature=temperature, seed=seed, decoding=decoding,
                      decoder=decoder, memory=model_memory(spec) if memory else None)


def model_memory(spec: str):
    """The memory a model's folder keeps (``lamforge.agents.memory``), loaded once per process; None
    for a model without one (a base model, one forged with ``data.memory=false``)."""
    return _cached("memory", spec, lambda: _memory(spec))


def _memory(spec: str):
    """The memory kept in a forged model's folder (``lamforge.agents.memory``), or None."""
    from pathlib import Path

    from lamforge.agents.memory import Memory
    from lamforge.models.registry import resolve

    folder = resolve(spec) or Path(spec).expanduser()
    return Memory.load(folder) if folder.is_dir() else None


def _action_set(env: Any):
    if isinstance(env, str):
        from lamforge.envs import action_set_of

        return action_set_of(env)
    return env.unwrapped.action_set
