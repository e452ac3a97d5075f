"""Search candidates for web pages, for the project's SearchExpert (which knows only the success
check): click every control, type the request's quoted values and numbers into text fields, choose
each option of a drop-down, press Enter. Scored by lexical overlap with the request, like the
Office candidates."""

from __future__ import annotations

from lamforge.core.search import BETA, Move, Request
from lamforge.core.schemas import Observation

TEXT_TYPES = ("textbox", "searchbox", "spinbutton")


def web_candidates(obs: Observation, request: Request) -> list[tuple[Move, float]]:
    out: list[tuple[Move, float]] = []
    values = request.values or []
    for c in obs.controls:
        relevance = max(request.match(c.name), request.mentions(c.name)) if c.name else 0.0
        if c.type in TEXT_TYPES:
            out.extend((Move("fill", c.name, (("text", v),)), BETA * (0.6 + 0.4 * relevance)) for v in values)
            out.append((Move("click", c.name), BETA * 0.2 * relevance))
            continue
        if c.type == "combobox":
            for option in filter(None, (c.value or "").partition("{")[2].rstrip("}").split("|")):
                out.append((Move("select_option", c.name, (("option", option),)),
                            BETA * (0.3 * relevance + 0.7 * max(request.match(option), request.mentions(option)))))
            continue
        out.append((Move("click", c.name), BETA * relevance))
    out.append((Move("press_key", None, (("key", "Enter"),)), 0.0))
    return out
