"""Helpers shared by the Office task families: picking phrases and paragraphs from a template,
building reference actions, reading the saved document."""

from __future__ import annotations

import random
import re
from functools import cache

from lamforge.core.schemas import Action
from lamforge.envs.office import document as D
from lamforge.envs.office.templates import TEMPLATES, paragraph_texts
from lamforge.envs.tasks import TaskFamily, finish  # noqa: F401  (finish: the families import it from here)

TEXT_TEMPLATES = tuple(TEMPLATES)


class OfficeFamily(TaskFamily):
    env_id = "lamforge/Office-v0"
    templates = TEXT_TEMPLATES


def gui(function: str, control: str, **args) -> Action:
    return Action(function=function, control_name=control, args=args)


def api(function: str, **args) -> Action:
    return Action(function=function, args=args)


def para(i: int) -> str:
    """Control name of the i-th (0-based) body paragraph."""
    return f"Paragraph {i + 1}"


@cache
def _body_text(template: str) -> str:
    doc = D.load(_template_file(template))
    cells = [c.text for t in doc.tables for row in t.rows for c in row.cells]
    return "\n".join(list(paragraph_texts(template)) + cells)


def _template_file(template: str):
    from lamforge.envs.office.templates import template_path

    return template_path(template)


@cache  # a template never changes once built, and parsing it per sampled task was 97% of sampling a pool
def prose_paragraphs(template: str, min_words: int = 5) -> tuple[int, ...]:
    """Indices of ordinary text paragraphs (enough words to pick phrases from)."""
    doc = D.load(_template_file(template))
    return tuple(i for i, p in enumerate(doc.paragraphs)
                 if len(p.text.split()) >= min_words and not p.style.name.startswith(("Heading", "Title", "List")))


def pick_paragraph(rng: random.Random, template: str, min_words: int = 5) -> tuple[int, str]:
    i = rng.choice(prose_paragraphs(template, min_words))
    return i, paragraph_texts(template)[i]


_STOP = {"a", "an", "the", "and", "or", "of", "to", "in", "on", "at", "for", "by", "with", "is", "are",
         "be", "it", "its", "our", "your", "you", "we", "if", "that", "this", "from", "as", "so", "per"}


def pick_phrase(rng: random.Random, template: str, words: tuple[int, int] = (2, 4)) -> tuple[int, str]:
    """A natural phrase of a few whole words, occurring exactly once in the template: no punctuation
    inside, and it neither starts nor ends with a small function word."""
    for _ in range(200):
        i, text = pick_paragraph(rng, template)
        tokens = text.split()
        n = rng.randint(*words)
        if len(tokens) < n:
            continue
        k = rng.randrange(len(tokens) - n + 1)
        chunk = tokens[k : k + n]
        if any(not t.isalnum() for t in chunk[:-1]) or chunk[0].lower() in _STOP:
            continue
        phrase = " ".join(chunk).rstrip(",.;:")
        if phrase.split()[-1].lower() in _STOP or not phrase.replace(" ", "").replace("'", "").isalnum():
            continue
        if len(phrase) >= 6 and _body_text(template).count(phrase) == 1:
            return i, phrase
    raise RuntimeError(f"no unique phrase found in template {template}")


def opening(text: str, words: int = 5) -> str:
    """How a request refers to a paragraph: its first few words."""
    return " ".join(text.split()[:words])


def find_paragraph(doc, text: str):
    """The saved paragraph whose text is ``text`` (None if gone)."""
    return next((p for p in doc.paragraphs if p.text == text), None)


def runs_ok(doc, phrase: str, predicate) -> bool:
    runs = D.phrase_runs(doc, phrase)
    return bool(runs) and all(predicate(r) for r in runs)


def load(state):
    return D.load(state.path)


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")

