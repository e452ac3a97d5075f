"""The Office application's search moves, for the search expert (which knows only the success
check): click each visible control, select each option of each drop-down, set_text on edit fields
and cells with values quoted or named in the request, drag_select / select_text on quoted phrases,
and a few keys, each scored by lexical overlap with the request.

    lamforge bench search-expert --seeds 3 --json
"""

from __future__ import annotations

from lamforge.core.schemas import Observation
from lamforge.core.search import BETA, Move, Request

TAB_PRIOR = 2.0  # switching tabs only reveals controls, so it comes before blind edits
KEYS = {"ctrl+i": "italic", "ctrl+x": "cut", "ctrl+v": "paste", "delete": "delete", "enter": "enter"}
CONTENT_TYPES = ("Paragraph", "Cell", "Comment")  # named by what they hold, not by their name


def office_candidates(obs: Observation, request: Request) -> list[tuple[Move, float]]:
    """Every candidate move at a state with its logit (before the softmax)."""
    out: list[tuple[Move, float]] = []
    for c in obs.controls:
        if c.type == "TabItem":
            if c.value != "selected":
                out.append((Move("click", c.name), TAB_PRIOR + BETA * request.match(c.name)))
            continue
        relevance = request.mentions(c.value) if c.type in CONTENT_TYPES else request.match(c.name)
        out.append((Move("click", c.name), BETA * relevance))
        if c.type == "ComboBox":
            name = request.match(c.name)
            for option in filter(None, (c.value or "").split("|")):
                out.append((Move("select_option", c.name, (("option", option),)),
                            BETA * (0.3 * name + 0.7 * request.match(option))))
        if c.type in ("Edit", "Cell"):
            # a value the request spells out is itself evidence, whatever the field
            logit = BETA * (0.5 + 0.5 * request.match(c.name))
            out.extend((Move("set_text", c.name, (("text", v),)), logit) for v in request.values)
        if c.type == "Paragraph":
            out.extend((Move("drag_select", c.name, (("text", p),)), BETA)
                       for p in request.phrases if p in (c.value or ""))
    out.extend((Move("select_text", None, (("text", p),)), BETA) for p in request.phrases)
    out.extend((Move("type_keys", None, (("keys", k),)), BETA * request.match(w)) for k, w in KEYS.items())
    return out
