"""Who says yes to an action that cannot be undone.

    lamforge run --env service --model service/lam4 "Refund order 4417"          # asks at the terminal
    lamforge run ... --yes                       # approves every one (each approval is logged)
    lamforge run ... --allow issue_refund        # approves these functions or controls, asks for the rest

The environment says which actions are irreversible (``LamEnv.action_risk``: the action's declaration,
refined by target and arguments); the runtime (``agents.runner.run_episode(policy=...)``) asks this
policy before each one runs. A denied action does not run, and the person's answer is shown to the
agent in the next observation.

With a ``guard`` (:class:`lamforge.core.guard.ArgumentGuard`) an action whose arguments are not grounded
in the request or the trusted state is blocked: neither ``--yes`` nor the allow-list approves it, only a
person who is asked (with the guard's reason) can; with no one to ask it does not run. Every decision is
kept in ``reviews`` with a typed ``code``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from lamforge.core.guard import Finding
from lamforge.core.schemas import Action

# Review.code: how a decision was reached
APPROVED = {"allow_list", "approve_all", "person_yes", "guard_overridden", "requested"}
DENIED = {"person_no", "no_one", "guard_blocked", "out_of_scope"}


@dataclass(frozen=True)
class Review:
    call: str  # the action, as a call
    approved: bool
    code: str  # one of APPROVED | DENIED
    reason: str  # why the environment asked (action_risk)
    said: str  # what the step records as the person's answer
    finding: Finding | None = None  # the guard's, when it blocked


class ConfirmPolicy:
    def __init__(self, ask: Callable[[str], str] | None = None, *, approve_all: bool = False,
                 allow: Iterable[str] = (), guard=None):
        self.ask, self.approve_all, self.guard = ask, approve_all, guard
        self.allow = {a.strip() for a in allow if a and a.strip()}
        self.reviews: list[Review] = []

    def review(self, action: Action, reason: str, control: str | None = None) -> tuple[bool, str]:
        """(run it?, what to record): the allow-list and ``--yes`` approve without asking, and say so;
        an action the guard blocks is only run on a person's explicit yes."""
        finding = self.guard.check(action) if self.guard is not None else None
        if finding is not None:
            approved, code, said = self._blocked(action, reason, finding)
        else:
            approved, code, said = self._decide(action, reason, control)
        self.reviews.append(Review(action.call_text(), approved, code, reason, said, finding))
        return approved, said

    def _decide(self, action: Action, reason: str, control: str | None) -> tuple[bool, str, str]:
        if action.function in self.allow or (control is not None and control in self.allow):
            which = action.function if action.function in self.allow else control
            return True, "allow_list", f"approved by the allow-list ({which})"
        if self.approve_all:
            return True, "approve_all", f"approved by --yes ({reason})"
        if self.ask is None:
            return False, "no_one", f"not run: {reason}, and no one was there to approve it"
        reply = self.ask(f"{action.call_text()}: {reason}. Run it? [y/N]")
        approved = reply.strip().lower() in ("y", "yes")
        return approved, "person_yes" if approved else "person_no", reply if approved else f"{reply} (denied: {reason})"

    def _blocked(self, action: Action, reason: str, finding: Finding) -> tuple[bool, str, str]:
        tag = f"[guard: {finding.code}, {finding.arg.kind}] {finding.text}"
        if self.ask is None:
            return False, "guard_blocked", f"not run: {tag}, and no one was there to approve it"
        reply = self.ask(f"{action.call_text()}: {reason}. The argument guard blocked it: {finding.text}. "
                         "Run it anyway? [y/N]")
        if reply.strip().lower() in ("y", "yes"):
            return True, "guard_overridden", f"{reply} (over the guard: {finding.text})"
        return False, "guard_blocked", f"{reply} (denied: {tag})"


def runtime_policy(env, ask: Callable[[str], str] | None, *, yes: bool = False, allow: str | Iterable[str] = ()) -> ConfirmPolicy:
    """The policy a person's run uses (``lamforge run``, a skill's replay, the app): asks before each
    irreversible action, with the argument guard on ``env``, so an injected recipient or amount is
    asked about even under ``--yes`` or an allow-list."""
    from lamforge.core.guard import ArgumentGuard

    names = allow.split(",") if isinstance(allow, str) else allow
    return ConfirmPolicy(ask, approve_all=yes, allow=names, guard=ArgumentGuard(env))
