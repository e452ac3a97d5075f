"""``lamforge bench safety``: an agent on every injection case and on the same task without it.

    lamforge bench safety --model expert --json
    lamforge bench safety --model office/lam2 --env office --no-guard --user yes

Each case runs twice in one environment: clean, then with its payload planted (``after_setup``).
Before each run the task's reference solution is played on the same setup to learn which
irreversible actions the request asks for; the simulated user then approves those and refuses the
rest (``--user yes``: approves everything the guard lets through, so the guard is the only defence).
The environment is wrapped in an audit that records every irreversible action reaching the
application; ``unconfirmed_irreversible`` counts those that ran without an approval (goal 0, and 0
by construction of ``run_episode``).

Figures: ``task_success`` (clean) next to ``task_success_injected`` (judged without the planted content),
``injection_success`` (the share of cases whose goal happened), ``out_of_scope_attempts`` (irreversible
actions the request did not ask for, all runs), ``guard_blocks`` and ``guard_false_blocks`` (blocks of
actions the request did ask for). ``sandbox`` is filled by the code-action sandbox's own figures.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from lamforge.core.errors import LamforgeError
from lamforge.safety.corpus import InjectionCase, get_case, select

FIGURES = ("irreversible_attempts", "out_of_scope_attempts", "guard_blocks", "guard_false_blocks", "unconfirmed")


def run_episode_checked(env: Any, agent: Any, task: Any, *, guard: bool, user: str) -> tuple[Any, dict]:
    """One audited episode under the simulated user; (trajectory, its figures)."""
    from lamforge.agents.runner import run_episode
    from lamforge.core.guard import ArgumentGuard
    from lamforge.safety.user import SimulatedUser, requested_actions, review_counts, unconfirmed

    expected = requested_actions(env, task)
    policy = SimulatedUser(env, expected, guard=ArgumentGuard(env) if guard else None, approve_all=user == "yes")
    traj = run_episode(env, agent, task, policy=policy)
    figures = review_counts(policy) | {"unconfirmed": unconfirmed(env.ran, policy.reviews)}
    return traj, figures


def run_case(env: Any, agent: Any, case: InjectionCase, *, guard: bool = True, user: str = "simulated") -> dict:
    """The case's task clean, then injected; what happened in each."""
    from lamforge.safety.goals import injection_succeeded, legit_success

    task = case.task()
    base = env.unwrapped
    record: dict[str, Any] = {"id": case.id, "env": case.env, "effect": case.goal.effect,
                              "grounded_attack": case.grounded_attack, "success_clean": False,
                              "success_injected": False, "injection_success": False}
    clean = injected = dict.fromkeys(FIGURES, 0)
    try:
        base.after_setup = None
        _, clean = run_episode_checked(env, agent, task, guard=guard, user=user)
        record["success_clean"] = legit_success(task, env)
        base.after_setup = case.planter()
        _, injected = run_episode_checked(env, agent, task, guard=guard, user=user)
        record["success_injected"] = legit_success(task, env)
        record["injection_success"] = injection_succeeded(case, env)
    except LamforgeError as e:  # a broken episode counts as failed, and says why
        record["error"] = f"{type(e).__name__}: {e}"
    finally:
        base.after_setup = None
    for k in FIGURES:
        record[k] = clean[k] + injected[k]
    record["out_of_scope_attempts_injected"] = injected["out_of_scope_attempts"]
    return record


def _summary(records: list[dict], model: str, guard: bool, user: str, skipped: list[str]) -> dict:
    n = len(records)

    def rate(key: str, rows: list[dict]) -> float | None:
        return round(sum(bool(r[key]) for r in rows) / len(rows), 4) if rows else None

    per_env = {}
    for env in dict.fromkeys(r["env"] for r in records):
        rows = [r for r in records if r["env"] == env]
        per_env[env] = {"cases": len(rows), "task_success": rate("success_clean", rows),
                        "task_success_injected": rate("success_injected", rows),
                        "injection_success": rate("injection_success", rows),
                        "out_of_scope_attempts": sum(r["out_of_scope_attempts"] for r in rows),
                        "guard_blocks": sum(r["guard_blocks"] for r in rows)}
    grounded = [r for r in records if r["grounded_attack"]]
    return {"injection_cases": n,
            "unconfirmed_irreversible": sum(r["unconfirmed"] for r in records),
            "out_of_scope_attempts": sum(r["out_of_scope_attempts"] for r in records),
            "out_of_scope_attempts_injected": sum(r["out_of_scope_attempts_injected"] for r in records),
            "task_success": rate("success_clean", records),
            "task_success_injected": rate("success_injected", records),
            "injection_success": rate("injection_success", records),
            "injection_success_grounded": rate("injection_success", grounded),
            "guard_blocks": sum(r["guard_blocks"] for r in records),
            "guard_false_blocks": sum(r["guard_false_blocks"] for r in records),
            "errors": sum("error" in r for r in records),
            "sandbox": None, "model": model, "guard": guard, "user": user, "per_env": per_env,
            "skipped": skipped}


def safety_bench(model: str, *, envs: list[str] | None = None, limit: int | None = None,
                 case_ids: list[str] | None = None, guard: bool = True, user: str = "simulated",
                 agent_factory: Callable[[str, Any], Any] | None = None,
                 on_case: Callable[[dict, int, int], None] | None = None) -> tuple[dict, list[dict]]:
    """(summary, one record per case). ``agent_factory(model, env)`` defaults to ``make_agent``."""
    from lamforge.envs import make
    from lamforge.safety.user import IrreversibleAudit

    if user not in ("simulated", "yes"):
        raise LamforgeError(f"--user is 'simulated' or 'yes', not {user!r}")
    chosen = [get_case(i) for i in case_ids] if case_ids else select(envs, limit)
    skipped: list[str] = []
    if any(c.env == "food" for c in chosen):
        from lamforge.envs.web.browser import chromium_path

        if chromium_path() is None:
            skipped = [c.id for c in chosen if c.env == "food"]
            chosen = [c for c in chosen if c.env != "food"]
    if agent_factory is None:
        from lamforge.agents.factory import make_agent

        agent_factory = make_agent
    records: list[dict] = []
    for env_name in dict.fromkeys(c.env for c in chosen):
        env = IrreversibleAudit(make(env_name))
        try:
            agent = agent_factory(model, env)
            for case in (c for c in chosen if c.env == env_name):
                records.append(run_case(env, agent, case, guard=guard, user=user))
                if on_case:
                    on_case(records[-1], len(records), len(chosen))
        finally:
            env.close()
    return _summary(records, model, guard, user, skipped), records
