"""DFSDT (ToolLLaMA's depth-first search-based decision tree) for multi-step tool tasks.

    lamforge run --env service --agent tree --model service/lam2 --task refund_item
    lamforge bench tool-search --env service --model service/lam2 --limit 12 --json   # vs plain ReAct

The plain ReAct loop commits to each action the model writes. DFSDT treats the model's actions as
the nodes of a tree: at each node it asks the model for up to ``width`` different next actions (the
greedy one first, then samples), runs one, and goes deeper; an action that fails (the environment
returns an error), a FAIL, or the depth limit is a dead end, and the search *backs off*: it restores
the environment to the parent (``clone_state`` / ``restore_state``) and tries the next sibling. The
first path that ends in FINISH is the answer. Like the model, the search never sees the task's
success check: its only signals are errors and the model's own FINISH.

The search runs in ``start`` on the live environment (which it leaves as it found it); ``act`` then
replays the path found, so the episode's trajectory holds just that path (``last_search`` has the
node count). With no FINISH within the node budget it replays the deepest error-free path.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from lamforge.agents.base import Agent, Decision
from lamforge.agents.react import ReactAgent
from lamforge.core.calls import format_action
from lamforge.core.schemas import Action, Observation, Status, Step, Task


@dataclass
class TreeStats:
    found: bool  # a path ending in FINISH
    nodes: int  # actions executed during the search
    backoffs: int  # times the search returned to a parent to try a sibling
    proposals: int  # model calls
    seconds: float
    depth: int  # length of the path replayed


class TreeSearchAgent(Agent):
    def __init__(self, env: Any, backend, action_set, *, width: int = 2, budget: int = 16, max_depth: int = 8,
                 temperature: float = 0.8, seed: int = 0, decoding: str = "constrained", memory=None):
        self.env, self.width, self.budget, self.max_depth = env, width, budget, max_depth
        self.action_set = action_set
        # one ReAct agent proposes actions: greedy for the first child of a node, sampled for siblings
        # tool calls are long (an e-mail's body): a larger token budget than the ReAct default
        self.proposer = ReactAgent(backend, action_set, decoding=decoding, planning="off",
                                   temperature=temperature, seed=seed, max_action_tokens=128, memory=memory)
        self.sample_temperature = temperature
        self.name = f"dfsdt/{getattr(backend, 'name', 'model')}"
        self.last_search: TreeStats | None = None
        self._path: list[Action] = []
        self._best: list[Action] = []
        self._nodes = self._backoffs = self._proposals = 0

    # --- Agent -----------------------------------------------------------------------------------
    def start(self, task: Task, observation: Observation) -> list[str]:
        base = self.env.unwrapped
        self.proposer.start(task, observation)
        started = time.perf_counter()
        root = base.clone_state()
        self._nodes = self._backoffs = self._proposals = 0
        self._best = []
        try:
            found = self._dfs(base, observation, [], root, min(self.max_depth, base.max_steps - base.steps_taken))
        finally:
            base.restore_state(root)
        self._path = list(found if found is not None else self._best)
        self.last_search = TreeStats(found is not None, self._nodes, self._backoffs, self._proposals,
                                     time.perf_counter() - started, len(self._path))
        return []

    def act(self, observation: Observation, history: list[Step]) -> Decision:
        i = len(history)
        if i < len(self._path):
            return Decision(self._path[i])
        why = "the search found no path ending in FINISH" if not (self.last_search and self.last_search.found) \
            else "the path is done"
        return Decision(Action(thought=why, status=Status.FAIL if "no path" in why else Status.FINISH))

    # --- search ----------------------------------------------------------------------------------
    def _propose(self, obs: Observation, history: list[Step]) -> list[Action]:
        """Up to ``width`` distinct actions the model would take here (greedy first)."""
        out: dict[str, Action] = {}
        for attempt in range(2 * self.width):
            if len(out) >= self.width or self._nodes + len(out) >= self.budget:
                break
            self.proposer.temperature = 0.0 if attempt == 0 else self.sample_temperature
            self._proposals += 1
            try:
                decision = self.proposer.act(obs, history)
            except RuntimeError:  # the decoder could not close the line within its budget: no node
                continue
            a = decision.action
            if a.function is None and a.status == Status.CONTINUE:
                continue  # output that did not parse: not a node
            key = format_action(a, self.action_set)
            out.setdefault(key, a)
        return list(out.values())

    def _dfs(self, base: Any, obs: Observation, history: list[Step], snapshot: Any, depth: int) -> list[Action] | None:
        if len(history) > len(self._best):
            self._best = [s.action for s in history]
        if depth <= 0 or self._nodes >= self.budget:
            return None
        children = self._propose(obs, history)
        for k, action in enumerate(children):
            if self._nodes >= self.budget:
                return None
            if k > 0:
                self._backoffs += 1
                base.restore_state(snapshot)
            if action.function is None:  # a bare FINISH / FAIL
                if action.status == Status.FINISH and history:
                    return [s.action for s in history] + [action]
                continue
            self._nodes += 1
            after, _, _terminated, truncated, info = base.step(action)
            step = Step(index=len(history), observation=obs, action=action, error=info.get("error"))
            if info.get("error") or action.status == Status.FAIL:
                continue  # dead end: back off to this node, try the next child
            if action.status == Status.FINISH:
                return [s.action for s in history] + [action]
            if truncated:
                continue
            found = self._dfs(base, after, history + [step], base.clone_state(), depth - 1)
            if found is not None:
                return found
        return None
