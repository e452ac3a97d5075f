"""The control filter (UFO's): show the model only the document items most relevant to the request.

A screen is the application's fixed controls (tabs, ribbon buttons, drop-downs, dialog fields) and
the document's content (paragraphs, comments). The content is what grows with the document
(a handbook has 30 paragraphs) and what a small model must search by text; the request almost always
quotes the text it means ("Make the paragraph starting 'Requests for leave' justified"). So the
content items are ranked by BM25 against the request and only the ``k`` best are shown, best first;
the fixed controls are always shown. The same filter runs when training rows are built and
when the agent acts, and the grammar offers only what is shown.

    view = filter_screen(observation, request, ScreenFilter(k=3))

What it costs when the right item is filtered out is measured on the reference trajectories
(``python -m lamforge.evaluation.filter_recall --data RUN/data``): the model cannot name an item it does not see.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from lamforge.core.schemas import Observation

# table cells are not filtered: a cell is found by its row and column headers ("the Host of the May 2
# meeting"), which text ranking cannot see (29 of 30 fill_table_cell targets were lost at k=4)
CONTENT_TYPES = frozenset({"Paragraph", "Comment"})


@dataclass(frozen=True)
class ScreenFilter:
    """Keep at most ``k`` content controls (types in ``content_types``) per screen; 0 keeps all."""

    k: int = 3
    content_types: frozenset[str] = CONTENT_TYPES

    @classmethod
    def from_env(cls, default: "ScreenFilter | None") -> "ScreenFilter | None":
        """``LAMFORGE_SCREEN_TOP_K`` overrides an environment's filter for an experiment (0: off);
        training and evaluation must run with the same value: nothing records it in the model."""
        raw = os.environ.get("LAMFORGE_SCREEN_TOP_K")
        if raw is None or raw == "":
            return default
        k = int(raw)
        if k <= 0:
            return None
        return cls(k=k, content_types=default.content_types if default else CONTENT_TYPES)


def _text(control) -> str:
    return f"{control.name} {control.value or ''}"


@lru_cache(maxsize=4096)
def _ranking(request: str, texts: tuple[str, ...]) -> tuple[int, ...]:
    """Indices of ``texts`` best first (BM25 against the request; ties keep document order)."""
    from lamforge.core.retrieval import Retriever

    try:
        scores = Retriever(list(texts), method="bm25").scores(request)
    except (ValueError, IndexError):  # nothing indexable (empty texts, stop-words only)
        scores = np.zeros(len(texts))
    return tuple(int(i) for i in np.lexsort((np.arange(len(texts)), -np.asarray(scores))))


def shown_content(observation: Observation, request: str, screen_filter: ScreenFilter) -> list[int]:
    """Labels of the content items shown, most relevant first."""
    content = [c for c in observation.controls if c.type in screen_filter.content_types]
    order = _ranking(request, tuple(_text(c) for c in content)) if content else ()
    return [content[i].label for i in order[: screen_filter.k]]


def kept_labels(observation: Observation, request: str, screen_filter: ScreenFilter) -> set[int]:
    """Labels of the controls shown: every fixed control and the ``k`` most relevant content items."""
    fixed = {c.label for c in observation.controls if c.type not in screen_filter.content_types}
    return fixed | set(shown_content(observation, request, screen_filter))


def filter_screen(observation: Observation, request: str, screen_filter: ScreenFilter | None) -> Observation:
    """The observation as the model sees it: the fixed controls where they are, and in the content's
    place its ``k`` most relevant items, best first, so that a small model finds the item the request
    means at the same place on every screen (its name still says where it is in the document)."""
    if screen_filter is None or screen_filter.k <= 0:
        return observation
    ranked = iter([observation.control(lb) for lb in shown_content(observation, request, screen_filter)])
    controls = []
    for c in observation.controls:
        if c.type not in screen_filter.content_types:
            controls.append(c)
        elif (nxt := next(ranked, None)) is not None:
            controls.append(nxt)
    hidden = len(observation.controls) - len(controls)
    state = f"{observation.state}; {hidden} document items not shown" if hidden else observation.state
    return observation.model_copy(update={"controls": controls, "state": state})
