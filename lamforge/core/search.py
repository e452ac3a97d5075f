"""The search vocabulary shared by the search expert (:mod:`lamforge.agents.search_expert`) and the
environments, which each know their own candidate moves (``search_candidates`` on the environment:
:mod:`lamforge.envs.office.search`, :mod:`lamforge.envs.web.search`): what a request says, and one
candidate move.

    >>> Request("Make 'Q3 results' bold").phrases      # ['Q3 results']
    >>> Move("click", "Bold").action(observation)      # Action(function='click', control_label=12, ...)
"""

from __future__ import annotations

import hashlib
import os
import re
import zipfile
from collections.abc import Hashable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lamforge.core.schemas import Action, Observation, Status

BETA = 4.0  # logit per unit of relevance: a fully matching action is e^4 ~ 55 times likelier

_STOP = frozenset({
    "a", "an", "the", "and", "or", "of", "to", "in", "on", "at", "for", "by", "with", "is", "are", "be", "it",
    "its", "our", "your", "you", "we", "if", "that", "this", "from", "as", "so", "per", "into", "onto", "all",
    "every", "any", "some", "please", "s"})
_WORD = re.compile(r"[a-z0-9]+(?:\.[0-9]+)?")
_QUOTED = re.compile(r"(?<![\w'])'(.+?)'(?!\w)")
_URL = re.compile(r"https?://[^\s'\"]+")
_FILE = re.compile(r"\b[\w-]+\.[A-Za-z]{3,4}\b")
_NUMBER = re.compile(r"(?<![\w.])\d+(?:\.\d+)?(?!\.?\d)(?!\w)")


def _words(text: str) -> list[str]:
    return [w for w in _WORD.findall(text.lower()) if w not in _STOP]


def _sim(a: str, b: str) -> float:
    """1 for the same word, less for one word's stem in the other (italic / italicise, link / hyperlink)."""
    if a == b:
        return 1.0
    short, long = sorted((a, b), key=len)
    if len(short) < 4 or any(ch.isdigit() for ch in a + b):
        return 0.0
    if long.startswith(short) or len(os.path.commonprefix([a, b])) >= 5:
        return 0.8
    return 0.6 if short in long else 0.0


def _unique(items: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(i for i in items if i))


class Request:
    """What the search reads from the request: its words, its quoted phrases, its values."""

    def __init__(self, text: str):
        quoted = _QUOTED.findall(text)
        urls = [u.rstrip(".,;:") for u in _URL.findall(text)]
        rest = _URL.sub(" ", text)
        self.phrases = _unique(q.strip().rstrip(".…").strip() for q in quoted)
        self.values = _unique([*quoted, *urls, *_FILE.findall(rest), *_NUMBER.findall(_QUOTED.sub(" ", rest))])
        self.words = set(_words(_QUOTED.sub(" ", text)))  # the instruction, without the quoted material
        self.all_words = set(_words(text))
        self._matches: dict[str, float] = {}

    def match(self, text: str) -> float:
        """Relevance in [0, 1] of a control name or option to the request's own words."""
        if text not in self._matches:
            best = [max((_sim(w, r) for r in self.words), default=0.0) for w in _words(text)]
            self._matches[text] = 0.5 * max(best) + 0.5 * sum(best) / len(best) if best else 0.0
        return self._matches[text]

    def mentions(self, value: str | None) -> float:
        """Relevance in [0, 1] of a document item (paragraph, cell, comment) by what it holds."""
        if not value:
            return 0.0
        if any(p in value for p in self.phrases):
            return 1.0
        return 0.8 * min(1.0, len(set(_words(value)) & self.all_words) / 3)


@dataclass(frozen=True)
class Move:
    """One candidate action, its control named (labels are resolved on the live observation)."""

    function: str
    control: str | None = None
    args: tuple[tuple[str, Any], ...] = ()

    def action(self, obs: Observation, status: Status = Status.CONTINUE) -> Action | None:
        label = None
        if self.control is not None:
            found = obs.find(self.control)
            if found is None:
                return None
            label = found.label
        return Action(function=self.function, control_label=label, control_name=self.control,
                      args=dict(self.args), status=status)


# --- what the check reads: a digest of its files (states that differ only elsewhere are one state) ---

def _file_digest(path: Path) -> Hashable:
    if zipfile.is_zipfile(path):  # a .docx is re-zipped with new timestamps on every save
        with zipfile.ZipFile(path) as z:
            return tuple((i.filename, i.CRC) for i in z.infolist())
    return hashlib.sha1(path.read_bytes()).hexdigest()


def judged_paths(judged: Any) -> list[Path]:
    return [v for v in getattr(judged, "__dict__", {}).values() if isinstance(v, Path)]


def state_digest(judged: Any) -> Hashable | None:
    """Digest of the files a judged state points to; None when it points to none (then the check
    must run after every action)."""
    paths = judged_paths(judged)
    if not paths:
        return None
    out = []
    for p in paths:
        if p.is_dir():
            out.append(tuple(sorted((str(f.relative_to(p)), _file_digest(f)) for f in p.rglob("*") if f.is_file())))
        else:
            out.append((str(p), _file_digest(p) if p.is_file() else None))
    return tuple(out)
