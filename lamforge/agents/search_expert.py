"""A search expert: finds a task's actions by best-first search over the environment's own actions,
knowing only the request text and the success check (never the task's parameters, family or
reference solution). It stands in for the paper's GPT-4o expert, and like it fails on part of the
tasks (the deep ones), which is what self-boosting later attacks.

    >>> env = make("office")
    >>> agent = SearchExpert(env, budget=300, depth=6)
    >>> traj = run_episode(env, agent, task)  # start() searches on the live env, act() replays the path
    >>> agent.last_search                     # SearchStats(found=True, expanded=7, seconds=0.2, ...)
    >>> search_report(n_seeds=3)              # {"families": {...}, "success_rate": ..., "seconds_per_task": ...}

Candidates at a state come from its observation and the request: click each visible control,
select each option of each drop-down, set_text on edit fields and cells with values quoted or named
in the request (quoted strings, URLs, file names, numbers), drag_select / select_text on quoted
phrases, and a few keys. Each candidate gets a logit from its lexical overlap with the request, a
softmax over a state's candidates turns logits into probabilities, and the search pops the path with
the highest probability first (cost = -log p). The goal test is the task's check on the judged state
after the action, so the last action of the path carries FINISH. States are de-duplicated on their
observation plus a digest of the files the check reads; actions that fail or change nothing lose
probability everywhere else too.
"""

from __future__ import annotations

import heapq
import itertools
import math
import random
import time
from collections import Counter
from collections.abc import Hashable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lamforge.agents.base import Agent, Decision
from lamforge.core.errors import LamforgeError
from lamforge.core.schemas import Action, Observation, Status, Step, Task
from lamforge.core.search import Move, Request, judged_paths, state_digest
from lamforge.envs.tasks import describe, families

ERROR_PENALTY = 1.5  # logit lost, everywhere, each time the same action failed or changed nothing
MAX_PENALTY = 4.5


# --- what the check reads: a digest of its files, and the files made while searching -------------

def _entries(judged: Any) -> set[Path]:
    return {f for p in judged_paths(judged) if p.is_dir() for f in p.rglob("*")}


# --- the search ------------------------------------------------------------------------------

@dataclass
class SearchStats:
    found: bool
    expanded: int  # actions executed (each one a node tried)
    seconds: float
    steps: int | None  # length of the path found
    budget: int
    depth: int


@dataclass(eq=False)
class _Node:
    parent: _Node | None
    move: Move | None
    obs: Observation
    key: Hashable
    digest: Hashable | None
    cost: float
    depth: int
    snapshot: Any = None  # cloned lazily, the first time the search comes back to this node

    def moves(self) -> list[Move]:
        out, n = [], self
        while n.move is not None:
            out.append(n.move)
            n = n.parent
        return out[::-1]


def _key(obs: Observation, digest: Hashable | None) -> Hashable:
    return digest, obs.state, tuple((c.name, c.type, c.value) for c in obs.controls)


class SearchExpert(Agent):
    """Searches in ``start`` (on the live env, which it leaves as it found it), replays in ``act``."""

    name = "search"

    def __init__(self, env: Any, budget: int = 300, depth: int = 6):
        self.env, self.budget, self.depth = env, budget, depth
        self.last_search: SearchStats | None = None
        self._path: list[Action] | None = None
        self._plan: list[str] = []
        self._todo: list[Action] = []
        self._expanded = 0

    # --- Agent ---------------------------------------------------------------------------
    def start(self, task: Task, observation: Observation) -> list[str]:
        self._path = self.search(task, observation)
        self._todo = list(self._path or [])
        self._plan = [describe(a) for a in self._todo]
        return list(self._plan)

    def act(self, observation: Observation, history: list[Step]) -> Decision:
        if self._path is None:
            stats = self.last_search
            why = f"no action sequence passes the check within {stats.expanded} tries" if stats else "no search ran"
            return Decision(Action(thought=f"Search failed: {why}.", status=Status.FAIL))
        if not self._todo:
            return Decision(Action(thought="The task is already done.", status=Status.FINISH))
        ref = self._todo.pop(0)
        done = len(self._path) - len(self._todo) - 1
        # the plan stays as made (see ReferenceExpert.act): the thought names the step being done
        update: dict[str, Any] = {"thought": self._plan[done]}
        if ref.control_name is not None:
            control = observation.find(ref.control_name)
            if control is None:
                return Decision(Action(thought=f"'{ref.control_name}' is not on screen; giving up.",
                                       status=Status.FAIL))
            update["control_label"] = control.label
        return Decision(ref.model_copy(update=update))

    # --- search ----------------------------------------------------------------------------
    def search(self, task: Task, observation: Observation) -> list[Action] | None:
        """The actions (control names, no labels; FINISH on the last) that make ``task.check`` pass,
        or None. The env is back in its start state afterwards, files made meanwhile removed."""
        base = self.env.unwrapped
        started = time.perf_counter()
        root_snapshot = base.clone_state()
        before = _entries(base.judge())
        self._expanded = 0
        try:
            goal = self._best_first(base, task, observation, root_snapshot)
        finally:
            base.restore_state(root_snapshot)
            for f in sorted(_entries(base.judge()) - before, reverse=True):  # files before their folders
                if f.is_dir():
                    f.rmdir()
                else:
                    f.unlink()
        moves = goal.moves() if goal is not None else []
        path = [Action(function=m.function, control_name=m.control, args=dict(m.args)) for m in moves]
        if path:
            path[-1] = path[-1].model_copy(update={"status": Status.FINISH})
        self.last_search = SearchStats(found=goal is not None, expanded=self._expanded,
                                       seconds=time.perf_counter() - started,
                                       steps=len(path) if goal is not None else None,
                                       budget=self.budget, depth=self.depth)
        return path if goal is not None else None

    def _best_first(self, base: Any, task: Task, obs: Observation, snapshot: Any) -> _Node | None:
        request = Request(task.request)
        digest = state_digest(base.judge())
        root = _Node(None, None, obs, _key(obs, digest), digest, 0.0, 0, snapshot)
        if task.check(base.judge()):
            return root
        depth = min(self.depth, base.max_steps - base.steps_taken - 1)  # never let the env truncate
        heap: list[tuple[float, int, _Node, Move, int]] = []
        order = itertools.count()
        penalties: Counter[Move] = Counter()
        visited: dict[Hashable, _Node] = {root.key: root}
        live: tuple[_Node | None, Observation] = (root, obs)  # the node the env is in, its observation

        generate = getattr(base, "search_candidates", None)  # each environment knows its own moves
        if generate is None:
            raise LamforgeError(f"{type(base).__name__} has no search moves (search_candidates): the search expert "
                                "cannot run on it; use --set data.expert=reference")

        def expand(node: _Node) -> None:
            scored = [(m, logit - _penalty(penalties[m])) for m, logit in generate(node.obs, request)]
            top = max(logit for _, logit in scored)
            lse = top + math.log(sum(math.exp(logit - top) for _, logit in scored))
            for m, logit in scored:  # newest first among equals: the children of the node the env is in
                heapq.heappush(heap, (node.cost + lse - logit, -next(order), node, m, penalties[m]))

        expand(root)
        while heap and self._expanded < self.budget:
            cost, _, parent, move, seen = heapq.heappop(heap)
            if penalties[move] > seen:  # it failed elsewhere since it was queued
                cost += _penalty(penalties[move]) - _penalty(seen)
                heapq.heappush(heap, (cost, -next(order), parent, move, penalties[move]))
                continue
            here = self._go_to(base, parent, live, depth)
            action = move.action(here) if here is not None else None
            if action is None:  # the replay went astray: restore next time
                live = (None, obs)
                continue
            self._expanded += 1
            after, _, terminated, truncated, _ = base.step(action)
            if terminated or truncated:  # the application ended the episode (a web page that judged)
                if task.check(base.judge()):
                    return _Node(parent, move, after, _key(after, None), None, cost, parent.depth + 1)
                live = (None, obs)  # on a wrong answer: a dead end
                continue
            digest = state_digest(base.judge())
            key = _key(after, digest)
            if after.last_action_error or key in visited:
                penalties[move] += 1
                # what can be observed is as before, so the env counts as being in that node
                live = (visited.get(key), after)
                continue
            node = _Node(parent, move, after, key, digest, cost, parent.depth + 1)
            visited[key] = node
            if (digest is None or digest != parent.digest) and task.check(base.judge()):
                return node
            live = (node, after)
            if node.depth < depth:
                expand(node)
        return None

    def _go_to(self, base: Any, node: _Node, live: tuple[_Node | None, Observation], depth: int) -> Observation | None:
        """Put the env in ``node``'s state: nothing to do if it is there, else restore the nearest
        cloned ancestor and replay the moves since (then clone, as the search came back here)."""
        ended = getattr(base, "_done", False)  # a page may end the episode on its own (a timer)
        if live[0] is node and not ended and base.steps_taken + depth - node.depth < base.max_steps:
            return live[1]
        chain, anchor = [], node
        while anchor.snapshot is None:
            chain.append(anchor)
            anchor = anchor.parent
        obs = base.restore_state(anchor.snapshot)
        for n in reversed(chain):
            action = n.move.action(obs)
            if action is None or getattr(base, "_done", False):
                return None
            obs, *_ = base.step(action)
            if obs.last_action_error:
                return None
        if chain:
            node.snapshot = base.clone_state()
        return obs


def _penalty(count: int) -> float:
    return min(MAX_PENALTY, ERROR_PENALTY * count)


def search_report(n_seeds: int = 3, budget: int = 300, depth: int = 6, *, env_name: str = "office",
                  family_names: Iterable[str] | None = None) -> dict[str, Any]:
    """Success of the search expert per task family over seeds 0..n_seeds-1, each task run end to
    end with ``run_episode`` (search, then replay, judged by the env)."""
    from lamforge.agents.runner import run_episode
    from lamforge.envs import make

    fams = families(env_name)
    names = sorted(family_names) if family_names is not None else sorted(fams)
    env = make(env_name)
    rates: dict[str, float] = {}
    seconds: dict[str, float] = {}
    runs: list[tuple[bool, float, SearchStats]] = []
    try:
        for name in names:
            mine = []
            for seed in range(n_seeds):
                task = fams[name].sample(random.Random(seed))
                agent = SearchExpert(env, budget=budget, depth=depth)
                traj = run_episode(env, agent, task)
                mine.append((traj.success, traj.seconds, agent.last_search))
            rates[name] = sum(r[0] for r in mine) / n_seeds
            seconds[name] = sum(r[1] for r in mine) / n_seeds
            runs += mine
    finally:
        env.close()
    n = max(1, len(runs))
    return {"families": rates, "success_rate": sum(r[0] for r in runs) / n,
            "seconds_per_task": sum(r[1] for r in runs) / n, "family_seconds": seconds,
            "expanded_per_task": sum(r[2].expanded for r in runs) / n,
            "n_tasks": len(runs), "budget": budget, "depth": depth}
