"""Skills: a task a person showed once, as a YAML file they can read and edit.

    lamforge teach record --env office --name bold-phrase "Make 'quarterly results' bold"
    lamforge skills show bold-phrase          # the file below; `lamforge skills edit bold-phrase` opens it
    lamforge run --skill bold-phrase --param phrase="annual report" --template letter

    name: bold-phrase
    env: office
    template: report_headings
    request: Make '{phrase}' bold
    params:
      phrase: quarterly results          # the value shown, used as the example
    steps:
    - action: drag_select
      target: {type: Paragraph, name: Paragraph 3, text: The quarterly results show...}
      args: {text: '{phrase}'}
      note: select exactly the words, not the paragraph
    - action: click
      target: {type: Button, name: Bold}

A step's target is described by the control's type, name and the text it showed (labels differ
between screens); ``{name}`` in a step's arguments or the request is a parameter. A broken file is
an error naming the line.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from lamforge.core.errors import LamforgeError
from lamforge.core.files import write_text_atomic

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
_PARAM = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")


class SkillError(LamforgeError):
    pass


class Target(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: str | None = Field(None, description="The control's type (Button, Paragraph, Edit, ...).")
    name: str | None = Field(None, description="The control's name on the screen it was used on.")
    text: str | None = Field(None, description="What the control showed (its value), to find it again.")


class SkillStep(BaseModel):
    model_config = ConfigDict(extra="forbid")

    action: str = Field(min_length=1, description="The function, e.g. click, set_text, drag_select.")
    target: Target | None = Field(None, description="The control it acts on, described (none for API actions).")
    args: dict[str, Any] = Field(default_factory=dict, description="Arguments; {name} is a parameter.")
    status: str = Field("CONTINUE", pattern="^(CONTINUE|FINISH)$")
    note: str | None = Field(None, max_length=500, description="What the person said about this step.")


class Skill(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=_NAME.pattern)
    env: str = Field(min_length=1)
    template: str | None = None
    request: str = Field(min_length=1, max_length=2000, description="The request, with {name} parameters.")
    params: dict[str, str] = Field(default_factory=dict, description="Each parameter with the value shown.")
    steps: list[SkillStep] = Field(min_length=1)
    expected: str | None = Field(None, description="The task family whose check judges a replay, if any.")

    def missing_params(self) -> set[str]:
        used = set(_PARAM.findall(self.request))
        for s in self.steps:
            used |= {p for v in s.args.values() if isinstance(v, str) for p in _PARAM.findall(v)}
            if s.target is not None and s.target.text:
                used |= set(_PARAM.findall(s.target.text))
        return used - set(self.params)

    def fill(self, text: str, values: dict[str, str]) -> str:
        return _PARAM.sub(lambda m: str(values.get(m.group(1), m.group(0))), text)

    def request_for(self, values: dict[str, str]) -> str:
        return self.fill(self.request, {**self.params, **values})

    def values_in(self, request: str) -> dict[str, str] | None:
        """The parameter values a request in the skill's own wording gives, or None when it is worded otherwise."""
        pattern, last = "", 0
        for m in _PARAM.finditer(self.request):
            pattern += re.escape(self.request[last:m.start()]) + f"(?P<{m.group(1)}>.+?)"
            last = m.end()
        found = re.fullmatch(pattern + re.escape(self.request[last:]), request, re.S)
        return found.groupdict() if found else None


def skills_dir() -> Path:
    from lamforge.config import lamforge_home

    return lamforge_home() / "skills"


def skill_path(name: str, folder: Path | None = None) -> Path:
    if not _NAME.match(name):
        raise SkillError(f"a skill name is letters, digits, '.', '_' or '-' (at most 64), not {name!r}")
    return (folder or skills_dir()) / f"{name}.yaml"


def save_skill(skill: Skill, folder: Path | None = None) -> Path:
    path = skill_path(skill.name, folder)
    path.parent.mkdir(parents=True, exist_ok=True)
    data = skill.model_dump(exclude_none=True, exclude_defaults=False)
    for step in data["steps"]:
        if step.get("status") == "CONTINUE":
            step.pop("status")
        if not step.get("args"):
            step.pop("args", None)
    return write_text_atomic(path, yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=110))


def load_skill(name_or_path: str | Path, folder: Path | None = None) -> Skill:
    """The skill in a file (a path, or a name in the skills folder); a broken file is a SkillError
    naming the file and the line."""
    path = Path(name_or_path)
    if not (path.suffix in (".yaml", ".yml") and path.is_file()):
        path = skill_path(str(name_or_path), folder)
    if not path.is_file():
        known = ", ".join(sorted(p.stem for p in (folder or skills_dir()).glob("*.yaml"))) or "none yet"
        raise SkillError(f"no skill {str(name_or_path)!r} (skills: {known})")
    text = path.read_text(encoding="utf-8")
    try:
        node = yaml.compose(text)
        data = yaml.safe_load(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark else "somewhere"
        raise SkillError(f"{path}: not valid YAML at {where}: {getattr(e, 'problem', e)}") from None
    if not isinstance(data, dict):
        raise SkillError(f"{path}: a skill file is a mapping (name, env, request, steps, ...)")
    try:
        skill = Skill.model_validate(data)
    except ValidationError as e:
        first = e.errors()[0]
        line = _line_of(node, first["loc"])
        raise SkillError(f"{path}, line {line}: {'.'.join(map(str, first['loc']))}: {first['msg']}") from None
    if missing := skill.missing_params():
        raise SkillError(f"{path}: parameter(s) {sorted(missing)} are used but not listed under params")
    return skill


def _line_of(node, loc: tuple) -> int:
    """The 1-based line of the YAML node at ``loc`` (the deepest one found)."""
    line = node.start_mark.line + 1 if node is not None else 1
    for key in loc:
        if node is None:
            break
        if isinstance(node, yaml.MappingNode):
            node = next((v for k, v in node.value if k.value == key), None)
        elif isinstance(node, yaml.SequenceNode) and isinstance(key, int) and key < len(node.value):
            node = node.value[key]
        else:
            break
        if node is not None:
            line = node.start_mark.line + 1
    return line
