"""Who says yes to an action that cannot be undone.

    lamforge run --env service --model service/lam4 "Refund order 4417"          # asks at the terminal
    lamforge run ... --yes                       # approves every one (each approval is logged)
    lamforge run ... --allow issue_refund        # approves these functions or controls, asks for the rest

The environment says which actions are irreversible (``LamEnv.action_risk``: the action's declaration,
refined by target and arguments); the runtime (``agents.runner.run_episode(policy=...)``) asks this
policy before each one runs. A denied action does not run, and the person's answer is shown to the
agent in the next observation.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from lamforge.core.schemas import Action


class ConfirmPolicy:
    def __init__(self, ask: Callable[[str], str] | None = None, *, approve_all: bool = False,
                 allow: Iterable[str] = ()):
        self.ask, self.approve_all = ask, approve_all
        self.allow = {a.strip() for a in allow if a and a.strip()}

    def review(self, action: Action, reason: str, control: str | None = None) -> tuple[bool, str]:
        """(run it?, what to record): the allow-list and ``--yes`` approve without asking, and say so."""
        if action.function in self.allow or (control is not None and control in self.allow):
            return True, f"approved by the allow-list ({action.function if action.function in self.allow else control})"
        if self.approve_all:
            return True, f"approved by --yes ({reason})"
        if self.ask is None:
            return False, f"not run: {reason}, and no one was there to approve it"
        reply = self.ask(f"{action.call_text()}: {reason}. Run it? [y/N]")
        approved = reply.strip().lower() in ("y", "yes")
        return approved, reply if approved else f"{reply} (denied: {reason})"
