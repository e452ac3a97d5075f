"""The LAM at work: a ReAct loop over a model backend.

    lamforge run --env office --model smollm2-135m --task bold_text --seed 0

Each step the model reads the request, the plan, the steps so far and the labelled controls, and
writes one action line (``lamforge.core.calls``). Two decoding modes:

* ``constrained`` (default with a local model): the line is decoded under the action grammar of the
  current observation, so it is always a valid action on a control that is on screen;
* ``freeform``: plain decoding then parsing; a line that does not parse becomes a no-op step whose
  error is shown to the model on the next turn (the baseline, and the only mode for remote models
  that take no grammar).

Planning: a plan at the start; when an action fails (the observation shows the plan no longer fits)
the plan is made again (dynamic planning). Plan and status go into each step record.
"""

from __future__ import annotations

from lamforge.agents.base import Agent, Decision
from lamforge.agents.prompting import episode_messages, parse_plan, plan_messages
from lamforge.core.actions import ActionSet
from lamforge.core.calls import action_grammar, parse_action
from lamforge.core.errors import ActionError, DecodingError
from lamforge.core.schemas import Action, Observation, Status, Step, Task


# Tokens the model chooses in one action (the grammar's forced text is free). The service expert's
# longest action, an e-mail with its label attached, needs 63: at the old 48 the call was closed
# before its attachment, and return_and_email_label failed for any model, however well trained.
MAX_ACTION_TOKENS = 96


class ReactAgent(Agent):
    def __init__(self, backend, action_set: ActionSet, *, decoding: str = "constrained",
                 planning: str = "dynamic", max_action_tokens: int = MAX_ACTION_TOKENS, max_plan_tokens: int = 64,
                 allow_ask: bool = False, prefix_cache: bool = True, temperature: float = 0.0,
                 seed: int | None = None, decoder=None, memory=None):
        if decoding not in ("constrained", "freeform"):
            raise ValueError(f"decoding must be 'constrained' or 'freeform', not {decoding!r}")
        if planning not in ("off", "start", "dynamic"):
            raise ValueError(f"planning must be off, start or dynamic, not {planning!r}")
        self.backend, self.action_set = backend, action_set
        self.local = bool(getattr(backend, "local", False))
        if decoding == "constrained" and not self.local:
            decoding = "freeform"  # a remote server takes no grammar; parsing + feedback instead
        self.decoding, self.planning = decoding, planning
        self.max_action_tokens, self.max_plan_tokens = max_action_tokens, max_plan_tokens
        self.allow_ask, self.prefix_cache = allow_ask, prefix_cache
        # temperature > 0 samples actions (self-boosting exploration); plans stay greedy
        self.temperature = temperature
        self._generator = None
        if temperature > 0 and self.local:
            import torch

            self._generator = torch.Generator().manual_seed(seed if seed is not None else 0)
        self.name = f"{getattr(backend, 'name', 'model')}/{decoding}"
        # a Decoder of its own by default; lock-step evaluation passes a Lockstep slot instead
        self._decoder = decoder
        self.task: Task | None = None
        self.plan: list[str] = []
        self.memory = memory  # lamforge.agents.memory.Memory, or None
        self.stats = {"steps": 0, "valid": 0, "chosen_tokens": 0, "new_tokens": 0, "prompt_tokens": 0,
                      "reused_tokens": 0, "decode_seconds": 0.0}
        self.last_entropy: float | None = None  # of the last constrained action (nats), for active learning

    # --- Agent API -----------------------------------------------------------------------------
    def start(self, task: Task, observation: Observation) -> list[str]:
        self.task = task
        self.recalled = self.memory.recall(task.request) if self.memory is not None else None
        self.plan = self._make_plan() if self.planning != "off" else []
        return list(self.plan)

    def act(self, observation: Observation, history: list[Step]) -> Decision:
        replanned = None
        if self.planning == "dynamic" and observation.last_action_error and history:
            self.plan = replanned = self._make_plan()
        messages = episode_messages(self.task.env_id, self.action_set, self.task.request, history,
                                    observation, self.plan, recalled=self.recalled)
        view = self.action_set.view(observation, self.task.request)  # what the prompt shows
        last = history[-1].action if history and history[-1].error is None else None
        grammar = (action_grammar(view, self.action_set, allow_ask=self.allow_ask, last=last)
                   if self.decoding == "constrained" else None)
        try:
            text = self._complete(messages, grammar, self.max_action_tokens, temperature=self.temperature)
        except DecodingError as e:
            # e.g. a free-text argument that the grammar could not close within the token budget:
            # one bad decode costs one step (its error is shown next turn), not the episode
            self.stats["steps"] += 1
            return Decision(Action(thought="(decoding failed)"), raw_output="", plan=replanned,
                            error=f"no valid action: {e}")
        self.stats["steps"] += 1
        try:
            action = parse_action(text, self.action_set, view)
            if action.function is not None:
                self.action_set.get(action.function).validate_args(action)
        except ActionError as e:
            # free-form output that is not a valid action: nothing runs; the step records the error
            # and the next turn shows it to the model
            return Decision(Action(thought="(unparseable output)"), raw_output=text, plan=replanned,
                            error=f"not a valid action: {e}")
        self.stats["valid"] += 1
        return Decision(action, raw_output=text, plan=replanned)

    # --- model calls -----------------------------------------------------------------------------
    def _make_plan(self) -> list[str]:
        text = self._complete(plan_messages(self.task.env_id, self.task.request), None, self.max_plan_tokens,
                              stop="\n\n")
        return parse_plan(text)

    def plans_for(self, env_id: str, requests: list[str]) -> list[list[str]]:
        """A plan for each request; a local model decodes them in batches (planning evaluation)."""
        if not self.local:
            return [parse_plan(self._complete(plan_messages(env_id, r), None, self.max_plan_tokens, stop="\n\n"))
                    for r in requests]
        from lamforge.models.batch_decoding import generate_text_batch
        from lamforge.models.decoding import prompt_ids

        prompts = [prompt_ids(self.backend.tokenizer, plan_messages(env_id, r)) for r in requests]
        texts = generate_text_batch(self.backend.model, self.backend.tokenizer, prompts,
                                    max_new_tokens=self.max_plan_tokens, stop="\n\n")
        return [parse_plan(t) for t in texts]

    def _complete(self, messages: list[dict], grammar: str | None, max_tokens: int, stop: str = "\n",
                  temperature: float = 0.0) -> str:
        if not self.local:
            return self.backend.chat(messages, max_tokens=max_tokens, stop=[stop], temperature=temperature).text
        if self._decoder is None:
            from lamforge.models.decoding import Decoder

            self._decoder = Decoder(self.backend.model, self.backend.tokenizer, prefix_cache=self.prefix_cache)
        from lamforge.models.decoding import prompt_ids

        ids = prompt_ids(self.backend.tokenizer, messages)
        result = self._decoder.generate(ids, grammar=grammar, max_new_tokens=max_tokens, stop=stop,
                                        temperature=temperature, generator=self._generator)
        for k in ("chosen_tokens", "new_tokens", "prompt_tokens", "reused_tokens"):
            self.stats[k] += getattr(result, k)
        self.stats["decode_seconds"] += result.seconds
        self.last_entropy = result.entropy if grammar is not None else None
        return result.text


def is_valid(action: Action, observation: Observation, action_set: ActionSet) -> bool:
    """A valid action of this observation: a known function, well-typed arguments, and a control
    label that is on screen and of a type the function applies to (or a pure status update)."""
    if action.function is None:
        return action.status in (Status.FINISH, Status.FAIL, Status.PENDING, Status.CONTINUE)
    if action.function not in action_set:
        return False
    spec = action_set.get(action.function)
    try:
        spec.validate_args(action)
    except ActionError:
        return False
    if spec.targets_control:
        control = observation.control(action.control_label)
        return control is not None and (spec.control_types is None or control.type in spec.control_types)
    return True
