"""The environment API: Gymnasium's ``Env`` exactly, with typed observations and actions.

    >>> from lamforge.envs import make
    >>> env = make("office")
    >>> obs, info = env.reset(seed=0, options={"family": "bold_text"})
    >>> obs, reward, terminated, truncated, info = env.step(some_action)

The environment is separate from the task: ``reset`` takes a :class:`Task` (or a family to sample
one from) in ``options``; the task's family sets the state up and judges it. A bad action (unknown
control or function, bad arguments, acting on a closed dialog) never ends the episode; it comes back
as ``observation.last_action_error``.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable
from typing import Any, ClassVar

import gymnasium as gym
from gymnasium.error import ResetNeeded

from lamforge.core.actions import ActionSet
from lamforge.core.errors import ActionError, PlantError
from lamforge.core.schemas import Action, Control, Observation, Status, Task
from lamforge.envs import tasks as task_registry

log = logging.getLogger(__name__)


class ActionSpace(gym.spaces.Space):
    """The space of :class:`Action` records whose function belongs to an action set."""

    def __init__(self, action_set: ActionSet, seed: int | None = None):
        super().__init__(shape=None, dtype=None, seed=seed)
        self.action_set = action_set

    def contains(self, x: Any) -> bool:
        return isinstance(x, Action) and (x.function is None or x.function in self.action_set)

    def sample(self, mask: Any = None, probability: Any = None) -> Action:
        """A random, usually nonsensical action (for conformance checks and fuzzing)."""
        rng = self.np_random
        spec = list(self.action_set)[int(rng.integers(len(self.action_set)))]
        args = {}
        for p in spec.params:
            if p.enum:
                args[p.name] = p.enum[int(rng.integers(len(p.enum)))]
            elif p.type in ("integer", "number"):
                args[p.name] = int(rng.integers(1, 6))
            elif p.type == "boolean":
                args[p.name] = bool(rng.integers(2))
            else:
                args[p.name] = "".join(rng.choice(list("abcdef "), size=5))
        label = int(rng.integers(1, 40)) if spec.targets_control else None
        return Action(function=spec.name, control_label=label, args=args)

    @property
    def is_np_flattenable(self) -> bool:
        return False


class ObservationSpace(gym.spaces.Space):
    def __init__(self, seed: int | None = None):
        super().__init__(shape=None, dtype=None, seed=seed)

    def contains(self, x: Any) -> bool:
        return isinstance(x, Observation)

    def sample(self, mask: Any = None, probability: Any = None) -> Observation:
        return Observation(request="", controls=[Control(label=1, name="OK", type="Button")], state="")

    @property
    def is_np_flattenable(self) -> bool:
        return False


class LamEnv(gym.Env[Observation, Action]):
    """Base of every lamforge environment. Subclasses provide the application:
    ``_setup(task)``, ``_observe() -> (controls, state summary)``, ``_target()`` (the object whose
    methods the actions call) and ``_judge_state()`` (what the task's check reads)."""

    metadata: ClassVar[dict[str, Any]] = {"render_modes": ["ansi"]}
    env_id: ClassVar[str]
    action_set: ClassVar[ActionSet]

    def __init__(self, render_mode: str | None = None, max_steps: int = 20):
        if render_mode not in (None, *self.metadata["render_modes"]):
            raise ValueError(f"render_mode must be one of {self.metadata['render_modes']}")
        self.render_mode = render_mode
        self.max_steps = max_steps
        self.action_space = ActionSpace(self.action_set)
        self.observation_space = ObservationSpace()
        self.task: Task | None = None
        self._steps = 0
        self._done = False
        self._last_obs: Observation | None = None

    # --- hooks -----------------------------------------------------------------------------
    def _setup(self, task: Task) -> None:
        raise NotImplementedError

    def _observe(self) -> tuple[list[Control], str]:
        raise NotImplementedError

    def _target(self) -> Any:
        raise NotImplementedError

    def _judge_state(self) -> Any:
        raise NotImplementedError

    def action_risk(self, action: Action) -> str | None:
        """Why ``action`` cannot be undone (the runtime then asks the person first), or None. The
        action's declaration says so (``ActionSpec.irreversible``); an environment refines it by the
        control the action targets and its arguments (a Delete button, paying, overwriting a file)."""
        if action.function is None or action.function not in self.action_set:
            return None
        spec = self.action_set.get(action.function)
        return f"{spec.name} cannot be undone" if spec.irreversible else None

    def control_name(self, label: int | None) -> str | None:
        """The name of the control with ``label`` on the current screen, if any."""
        if label is None or self._last_obs is None:
            return None
        found = next((c for c in self._last_obs.controls if c.label == label), None)
        return found.name if found is not None else None

    def judge(self) -> Any:
        """What the task's check reads, now (the search expert tests the check after each move)."""
        return self._judge_state()

    # --- safety: what the argument guard checks, and planted content (lamforge.safety) -------
    def guarded_args(self, action: Action) -> list:
        """The values of an irreversible ``action`` that must be grounded in the request or the trusted
        state (:class:`lamforge.core.guard.Arg`: a recipient, an order, an amount, the text a delete
        destroys); empty: nothing to check."""
        return []

    def trusted_values(self) -> list:
        """What the episode's state vouches for (:class:`lamforge.core.guard.Evidence`: structured fields
        of the records business lookups returned, never free text); empty by default."""
        return []

    # Called after each reset's setup, before the first observation (None: nothing). The injection
    # benchmark sets it to plant hostile content into the episode's own application with ``plant``.
    after_setup: Callable[[LamEnv], None] | None = None

    def plant(self, where: str, text: str) -> None:
        """Write ``text`` into the episode's own content at ``where`` (a place the environment names,
        e.g. ``order:4417:address``); raises :class:`PlantError` for a place it does not have."""
        raise PlantError(f"{type(self).__name__} has no places to plant content")

    def planted_text(self, where: str) -> str:
        """The content at ``where`` now, as the application stores it (a check that a plant took)."""
        raise PlantError(f"{type(self).__name__} has no places to plant content")

    def unplanted_state(self) -> Any:
        """What the task's check reads, with planted content taken out again where it would change the
        verdict (a document's planted paragraph); by default the state itself."""
        return self._judge_state()

    def _app_finished(self) -> bool:
        """True when the application ended the episode by itself (a web task page that judges
        on submit); the agent's FINISH / FAIL end it too."""
        return False

    def _snapshot(self) -> Any:
        raise NotImplementedError(f"{type(self).__name__} does not support state cloning")

    def _restore(self, snapshot: Any) -> None:
        raise NotImplementedError(f"{type(self).__name__} does not support state cloning")

    # --- state cloning (search experts) ----------------------------------------------------
    def clone_state(self) -> Any:
        """An opaque copy of the whole episode state (application, step count, last observation)."""
        return (self._snapshot(), self._steps, self._done, self._last_obs.model_copy(deep=True))

    def restore_state(self, state: Any) -> Observation:
        """Go back to a state from :meth:`clone_state`; returns that state's observation."""
        app, self._steps, self._done, obs = state
        self._restore(app)
        self._last_obs = obs.model_copy(deep=True)
        return obs.model_copy(deep=True)

    # --- Gymnasium API ---------------------------------------------------------------------
    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed)
        self.task = self._choose_task(options or {})
        self._steps, self._done = 0, False
        self._setup(self.task)
        if self.after_setup is not None:
            self.after_setup(self)
        obs = self._observation(None)
        return obs, {"task_id": self.task.id, "family": self.task.family}

    def step(self, action: Action):
        if self.task is None or self._done:
            raise ResetNeeded("call reset() before step(), and again after an episode ends")
        self._steps += 1
        error = None
        if isinstance(action, dict):
            try:
                action = Action.model_validate(action)
            except ValueError as e:
                action, error = Action(), f"malformed action: {e}"
        if error is None and action.function is not None and action.status not in (
            Status.PENDING,
            Status.CONFIRM,
        ):
            error = self._execute(action)
        terminated = action.status in (Status.FINISH, Status.FAIL) or self._app_finished()
        truncated = not terminated and self._steps >= self.max_steps
        info: dict[str, Any] = {"step": self._steps, "error": error}
        reward = 0.0
        if terminated or truncated:
            self._done = True
            state = self._judge_state()
            reward = self.task.reward(state)
            info["success"] = self.task.check(state)
        obs = self._observation(error)
        return obs, reward, terminated, truncated, info

    def _execute(self, action: Action) -> str | None:
        try:
            self.action_set.execute(action, self._target())
        except ActionError as e:
            return str(e)
        except (ValueError, TypeError, KeyError, IndexError, AttributeError) as e:
            # A slip in the application code on odd input must not end the episode; the model
            # sees the error, and the log keeps the trace for us.
            log.warning("action %s raised %s", action.call_text(), e, exc_info=True)
            return f"{action.function} failed: {e}"
        return None

    def render(self) -> str | None:
        if self.render_mode == "ansi" and self._last_obs is not None:
            return self._last_obs.render()
        return None

    # --- helpers ---------------------------------------------------------------------------
    def _observation(self, error: str | None) -> Observation:
        controls, state = self._observe()
        self._last_obs = Observation(
            request=self.task.request, controls=controls, state=state, last_action_error=error
        )
        return self._last_obs.model_copy(deep=True)

    def _choose_task(self, options: dict[str, Any]) -> Task:
        if "task" in options:
            task = options["task"]
            return task if isinstance(task, Task) else Task.model_validate(task)
        fams = task_registry.families(self.env_id)
        rng = random.Random(int(self.np_random.integers(2**31)))
        name = options.get("family") or sorted(fams)[rng.randrange(len(fams))]
        if name not in fams:
            raise task_registry.TaskNotFound(
                f"{self.env_id} has no task family {name!r}; known: {', '.join(sorted(fams))}"
            )
        return fams[name].sample(rng)

    @property
    def steps_taken(self) -> int:
        return self._steps
