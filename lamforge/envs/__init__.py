"""Environments (Gymnasium API) and their task families."""

from lamforge.envs.registry import EnvSpec, all_specs, make, register, spec

__all__ = ["EnvSpec", "all_specs", "make", "register", "spec"]
