"""One action definition, rendered three ways.

An :class:`ActionSpec` declares a function's name, description and parameters once. From that single
declaration it renders

* prompt text for a model (:meth:`ActionSpec.prompt_text`),
* an OpenAI/MCP-style JSON tool schema (:meth:`ActionSpec.tool_schema`),
* the executable call (:meth:`ActionSet.execute` validates an :class:`Action` and calls the
  environment's method of the same name).

Environments, agents, the data pipeline and trainers all import the same :class:`ActionSet`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any, Literal

from pydantic import BaseModel, Field

from lamforge.core.errors import BadArguments, MissingArgument, UnknownFunction, UnknownParameter
from lamforge.core.schemas import Action, Observation, Status
from lamforge.core.screen import ScreenFilter, filter_screen

# "array", "object" and "any" (no type constraint) carry the rest of their JSON Schema in
# ``Param.schema`` (items, properties, ...): catalog tools (lamforge.tools) take nested arguments.
ParamType = Literal["string", "integer", "number", "boolean", "array", "object", "any"]
_PY_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
    "array": (list, tuple),
    "object": (dict,),
}


class Param(BaseModel):
    name: str
    type: ParamType = "string"
    description: str = ""
    required: bool = True
    enum: list[Any] | None = None
    from_control: bool = Field(
        default=False, description="The value is one of the options the targeted control lists "
        "(Control.options); constrained decoding offers only those.")
    text_of: tuple[str, ...] = Field(
        default=(), description="The value is a phrase (whole words, in order) of the text shown by a control "
        "of these types: the targeted control's own text for an action on a control, else any such control "
        "on screen. Constrained decoding offers only those phrases; a shown text cut short ('...') takes any.")
    schema_extra: dict[str, Any] | None = Field(
        default=None, description="Further JSON Schema keywords of the value (items, properties, "
        "required, default, minimum, ...); validated on coerce.")

    def json_schema(self) -> dict[str, Any]:
        schema: dict[str, Any] = {} if self.type == "any" else {"type": self.type}
        schema.update(self.schema_extra or {})
        schema["description"] = self.description
        if self.enum is not None:
            schema["enum"] = list(self.enum)
        return schema

    def coerce(self, value: Any) -> Any:
        """Accept the obvious spellings a model produces ("3" for 3), reject the rest."""
        if self.type in ("array", "object", "any"):
            return self._coerce_structured(value)
        if isinstance(value, bool) and self.type != "boolean":
            raise BadArguments(f"argument {self.name!r} must be {self.type}, got a boolean")
        if isinstance(value, _PY_TYPES[self.type]):
            out = value
        elif self.type == "integer" and isinstance(value, str) and value.strip().lstrip("-").isdigit():
            out = int(value)
        elif self.type == "integer" and isinstance(value, float) and value.is_integer():
            out = int(value)
        elif self.type == "number" and isinstance(value, str):
            try:
                out = float(value)
            except ValueError:
                raise BadArguments(f"argument {self.name!r} must be a number, got {value!r}") from None
        elif self.type == "string" and isinstance(value, (int, float)):
            out = str(value)
        elif self.type == "boolean" and isinstance(value, str) and value.lower() in ("true", "false"):
            out = value.lower() == "true"
        else:
            raise BadArguments(
                f"argument {self.name!r} must be {self.type}, got {type(value).__name__} {value!r}"
            )
        if self.enum is not None and out not in self.enum:
            raise BadArguments(f"argument {self.name!r} must be one of {self.enum}, got {out!r}")
        if self.schema_extra:
            self._validate(out)
        return out

    def _coerce_structured(self, value: Any) -> Any:
        if self.type != "any" and isinstance(value, str):
            try:  # a model may write the JSON of a list/dict as a string
                value = json.loads(value)
            except ValueError:
                raise BadArguments(f"argument {self.name!r} must be {self.type}, got a string") from None
        if self.type != "any" and not isinstance(value, _PY_TYPES[self.type]):
            raise BadArguments(f"argument {self.name!r} must be {self.type}, got {type(value).__name__} {value!r}")
        if isinstance(value, tuple):
            value = list(value)
        if self.enum is not None and value not in self.enum:
            raise BadArguments(f"argument {self.name!r} must be one of {self.enum}, got {value!r}")
        self._validate(value)
        return value

    def _validate(self, value: Any) -> None:
        import jsonschema

        try:
            jsonschema.validate(value, self.json_schema())
        except jsonschema.ValidationError as e:
            where = "".join(f"[{p!r}]" for p in e.absolute_path)
            raise BadArguments(f"argument {self.name!r}{where}: {e.message}") from None
        except jsonschema.SchemaError as e:  # a broken declaration is the tool author's bug
            raise BadArguments(f"argument {self.name!r} has an invalid schema: {e.message}") from None


class ActionSpec(BaseModel):
    name: str
    description: str
    kind: Literal["gui", "api"] = Field(
        description="gui: acts on a labelled control; api: calls the application's API."
    )
    params: list[Param] = Field(default_factory=list)
    targets_control: bool = Field(
        default=False, description="Takes the numeric label of a control from the observation."
    )
    control_types: tuple[str, ...] | None = Field(
        default=None, description="Control types it applies to (None: any); constrained decoding "
        "only offers labels of these types.")
    doc: str = Field(default="", description="Longer documentation (usage notes, return value); "
                     "tool retrieval indexes it and tool prompts may show it.")
    irreversible: bool = Field(default=False, description="It cannot be undone (sends, pays, refunds, cancels, "
                               "deletes, overwrites): the runtime asks the person before it runs. An environment "
                               "refines this by arguments and target (LamEnv.action_risk).")

    def all_params(self) -> list[Param]:
        control = [Param(name="control", type="integer", description="Label of the control.")]
        return (control if self.targets_control else []) + self.params

    def prompt_text(self) -> str:
        sig = ", ".join(
            f"{p.name}: {p.type}" + ("" if p.required else " = None") for p in self.all_params()
        )
        return f"{self.name}({sig}) - {self.description}"

    def signature(self) -> str:
        """The call's shape alone, e.g. ``set_text(control, text)``: what the agent's system prompt
        shows (the grammar enforces types and labels, so the long form only costs tokens)."""
        return f"{self.name}({', '.join(p.name if p.required else p.name + '?' for p in self.all_params())})"

    def tool_schema(self) -> dict[str, Any]:
        params = self.all_params()
        return {
            "type": "function",
            "function": {
                "name": self.name,
                "description": self.description,
                "parameters": {
                    "type": "object",
                    "properties": {p.name: p.json_schema() for p in params},
                    "required": [p.name for p in params if p.required],
                    "additionalProperties": False,
                },
            },
        }

    def validate_args(self, action: Action) -> dict[str, Any]:
        """Return the keyword arguments of the executable call, or raise BadArguments."""
        if self.targets_control and action.control_label is None:
            raise BadArguments(f"{self.name} needs a control label")
        if not self.targets_control and action.control_label is not None:
            raise BadArguments(f"{self.name} takes no control label")
        known = {p.name: p for p in self.params}
        unknown = sorted(set(action.args) - set(known))
        if unknown:
            raise UnknownParameter(f"{self.name} has no argument(s) {unknown}; it takes {sorted(known)}")
        kwargs: dict[str, Any] = {}
        for p in self.params:
            if p.name in action.args and action.args[p.name] is not None:
                kwargs[p.name] = p.coerce(action.args[p.name])
            elif p.required:
                raise MissingArgument(f"{self.name} is missing argument {p.name!r}")
        if self.targets_control:
            kwargs = {"control": Param(name="control", type="integer").coerce(action.control_label), **kwargs}
        return kwargs


class ActionSet:
    """The actions one environment understands, in a fixed order."""

    def __init__(self, specs: Iterable[ActionSpec], *, refer_by_name: bool = False,
                 screen_filter: ScreenFilter | None = None, no_repeat: Iterable[str] = ()):
        self.specs: dict[str, ActionSpec] = {s.name: s for s in specs}
        # functions that, called again on the same control right after they ran, only undo what they
        # did (Office's click: Bold twice is not bold). The grammar leaves that control out of the next
        # step's choices (lamforge.core.calls.action_grammar), as no verified trajectory repeats one
        self.no_repeat = frozenset(no_repeat)
        # which document items the model is shown (lamforge.core.screen); training rows, the agent and
        # the grammar all read the screen through it, so they always agree
        self._screen_filter = screen_filter
        # how an action line names its control: by the control's name (click(control="Bold")), which a
        # small model maps from the request's words, or by its numeric label (click(control=6)), which
        # it must copy from the screen; names need to be unique on screen, as the Office app's are
        self.refer_by_name = refer_by_name

    @property
    def screen_filter(self) -> ScreenFilter | None:
        return ScreenFilter.from_env(self._screen_filter)

    def view(self, observation: Observation, request: str) -> Observation:
        """The observation as the model sees it (filtered by ``screen_filter``)."""
        return filter_screen(observation, request, self.screen_filter)

    def __contains__(self, name: object) -> bool:
        return name in self.specs

    def __iter__(self):
        return iter(self.specs.values())

    def __len__(self) -> int:
        return len(self.specs)

    def get(self, name: str | None) -> ActionSpec:
        if name not in self.specs:
            raise UnknownFunction(f"unknown function {name!r}; available: {', '.join(self.specs)}")
        return self.specs[name]

    def prompt_text(self) -> str:
        return "\n".join(s.prompt_text() for s in self.specs.values())

    def signatures(self) -> str:
        return "; ".join(s.signature() for s in self.specs.values())

    def tool_schemas(self) -> list[dict[str, Any]]:
        return [s.tool_schema() for s in self.specs.values()]

    def execute(self, action: Action, target: Any) -> Any:
        """Validate ``action`` and run it as a call of ``target``'s method of the same name."""
        spec = self.get(action.function)
        kwargs = spec.validate_args(action)
        return getattr(target, spec.name)(**kwargs)

    def from_tool_call(self, name: str, arguments: dict[str, Any], **fields: Any) -> Action:
        """Turn an OpenAI-style tool call into an :class:`Action` (the control moves out of args)."""
        args = dict(arguments)
        label = args.pop("control", None) if name in self.specs and self.specs[name].targets_control else None
        status = fields.pop("status", Status.CONTINUE)
        return Action(function=name, control_label=label, args=args, status=status, **fields)

    def to_tool_call(self, action: Action) -> dict[str, Any]:
        args = dict(action.args)
        if action.control_label is not None:
            args = {"control": action.control_label, **args}
        return {"name": action.function, "arguments": args}
