"""Recording: a person shows a task once, and the episode becomes a skill.

    lamforge teach record --env office --name bold-phrase "Make 'quarterly results' bold"

The person acts through the human agent in the terminal (``lamforge.agents.human``); every step is
appended to a log as it happens, so a recording cut off by a kill keeps its steps. The trajectory then
becomes a :class:`~lamforge.teach.skill.Skill`: each value the person typed that also appears in the
request becomes a ``{parameter}`` (named after the argument it filled), and each step's control is
described by type, name and the text it showed, so a replay finds it again on another screen.
"""

from __future__ import annotations

from lamforge.core.schemas import Status, Trajectory
from lamforge.teach.skill import Skill, SkillStep, Target

_PREFERRED = {"text": "phrase", "keys": "keys", "file_name": "file_name", "option": "option"}


def _find(request: str, value: str) -> int:
    """Where ``value`` stands in the request (any case; a short one only as a whole word), or -1."""
    import re

    if len(value) >= 3:
        return request.lower().find(value.lower())
    found = re.search(rf"(?<![\w.]){re.escape(value)}(?![\w.])", request, re.I) if value else None
    return found.start() if found else -1


def _quoted(request: str) -> list[str]:
    """The request's quoted words, an ellipsis dropped ('We plan to open two...' -> 'We plan to open two')."""
    import re

    return [q.rstrip(".…").strip() for q in re.findall(r"'([^']{3,})'", request)]


def skill_from_trajectory(traj: Trajectory, name: str, env: str, request: str | None = None) -> Skill:
    request = request or traj.task.request
    params: dict[str, str] = {}  # parameter -> value
    by_value: dict[str, str] = {}  # value -> parameter
    steps: list[SkillStep] = []
    for step in traj.steps:
        a = step.action
        if a.function is None:  # a bare FINISH ends the previous step; a question is not a step
            if a.status == Status.FINISH and steps:
                steps[-1].status = "FINISH"
            continue
        args = {}
        for key, value in a.args.items():
            text = str(value)
            at = _find(request, text) if isinstance(value, (str, int, float)) else -1
            if at < 0:
                args[key] = value
                continue
            said = request[at:at + len(text)]  # as the request spells it ("yellow" for the option "Yellow")
            if said not in by_value:
                base = _PREFERRED.get(key, key)
                pname, n = base, 2
                while pname in params:
                    pname, n = f"{base}{n}", n + 1
                params[pname], by_value[said] = said, pname
            args[key] = "{" + by_value[said] + "}"
        target = None
        if a.control_label is not None:
            control = step.observation.control(a.control_label)
            if control is not None:
                shown = (control.value or "")[:80] or None
                # a paragraph the request names by its opening words ("the paragraph starting 'We plan
                # to...'"): those words are a parameter, and the replay finds the paragraph that starts so
                opening = next((q for q in _quoted(request) if shown and len(q) >= 8 and shown.startswith(q)), None)
                if opening is not None:
                    if opening not in by_value:
                        pname = "paragraph" if "paragraph" not in params else f"paragraph{len(params) + 1}"
                        params[pname], by_value[opening] = opening, pname
                    shown = "{" + by_value[opening] + "}"
                target = Target(type=control.type, name=control.name, text=shown)
        steps.append(SkillStep(action=a.function, target=target, args=args,
                               status="FINISH" if a.status == Status.FINISH else "CONTINUE"))
    if not steps:
        from lamforge.teach.skill import SkillError

        raise SkillError("the recording has no actions: nothing to learn from")
    template_request = request
    for value, pname in sorted(by_value.items(), key=lambda kv: -len(kv[0])):  # longest first: no partial overlaps
        template_request = template_request.replace(value, "{" + pname + "}")
    expected = traj.task.family if traj.task.family != "free_request" else None
    return Skill(name=name, env=env, template=traj.task.template, request=template_request, params=params,
                 steps=steps, expected=expected)
