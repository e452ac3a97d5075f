"""Environments (Gymnasium API) and their task families."""

from lamforge.envs import tasks as _tasks  # noqa: F401  (registers how Task.check finds a family)
from lamforge.envs.registry import EnvSpec, action_set_of, all_specs, env_class, make, manual_dir, register, spec, tool_call_source

__all__ = ["EnvSpec", "action_set_of", "all_specs", "env_class", "make", "manual_dir", "register", "spec", "tool_call_source"]
