"""Environments (Gymnasium API) and their task families."""

from lamforge.envs.registry import EnvSpec, action_set_of, all_specs, env_class, make, register, spec

__all__ = ["EnvSpec", "action_set_of", "all_specs", "env_class", "make", "register", "spec"]
