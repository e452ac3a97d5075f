"""De-duplication of natural-language requests: exact (after normalising) and near-duplicate.

    from lamforge.data.dedup import dedup, near_duplicates, is_near_duplicate, normalise

    tasks = dedup(tasks)                        # keeps the first of each group of near-duplicates
    groups = near_duplicates(texts, 0.8)        # [{0, 7}, {3, 4, 9}, ...] indices into texts
    is_near_duplicate("Make 'a b' bold.", "make  'A B' bold!")      # True

Two texts are near-duplicates when the Jaccard similarity of the character 3-gram sets of their
normalised forms (:func:`normalise`: case-folded, punctuation removed, whitespace collapsed) is at
least ``threshold``. Character 3-grams rather than words because requests are short: one changed
word out of six moves word-Jaccard below 0.6 but leaves most 3-grams in place.

Nothing compares all pairs. :func:`near_duplicates` / :func:`dedup` find candidates with
MinHash-LSH (128 permutations computed with numpy, bands sized for the threshold) and confirm each
with the exact Jaccard, so a reported pair is always a real near-duplicate; a pair right at the
threshold is missed with probability under 0.2% (less above it). :func:`cross_duplicates`, which
the held-out split relies on, uses the exact prefix-filter join instead (AllPairs, Bayardo et al.
2007: with 3-grams ordered rarest first, two texts with Jaccard >= t share a 3-gram among the first
``|x| - ceil(t*|x|) + 1`` of each), which misses nothing but slows down on large piles of
look-alike texts; ``near_duplicates(..., exact=True)`` uses it too. Measured on 2 busy cores:
80k requests that are mostly repeats 0.3 s, 80k random-word sentences 7 s, 80k look-alikes
(real requests with up to three words swapped) 6 s.

Grouping is greedy in input order: a text joins the group of the first earlier *kept* text it is a
near-duplicate of, otherwise it starts a group. So kept texts are pairwise distinct, and every
dropped text is a near-duplicate of the text kept in its place (no chaining A~B~C with A !~ C).
"""

from __future__ import annotations

import math
import string
import unicodedata
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from itertools import chain
from typing import Any, TypeVar

import numpy as np

T = TypeVar("T")

DEFAULT_THRESHOLD = 0.8
_ASCII_PUNCT = str.maketrans("", "", string.punctuation)  # exactly the ASCII P* and S* characters
_EPS = 1e-9


def normalise(text: str) -> str:
    """Lower-case (case-folded), punctuation and symbols removed, whitespace collapsed."""
    if text.isascii():  # the common case, 10x faster: same result as the general path
        text = text.lower().translate(_ASCII_PUNCT)
    else:
        text = unicodedata.normalize("NFKC", text).casefold()
        text = "".join(c for c in text if not unicodedata.category(c).startswith(("P", "S")))
    return " ".join(text.split())


def shingles(text: str, n: int = 3) -> frozenset[str]:
    """Character ``n``-grams of the normalised text (the whole text when it is shorter)."""
    norm = normalise(text)
    return _grams(norm, n)


def _grams(norm: str, n: int = 3) -> frozenset[str]:
    if len(norm) <= n:
        return frozenset((norm,)) if norm else frozenset()
    return frozenset({norm[i:i + n] for i in range(len(norm) - n + 1)})


def jaccard(a: frozenset[Any], b: frozenset[Any]) -> float:
    if not a and not b:
        return 1.0
    inter = len(a & b)
    return inter / (len(a) + len(b) - inter)


def is_near_duplicate(a: str, b: str, threshold: float = DEFAULT_THRESHOLD) -> bool:
    _check_threshold(threshold)
    na, nb = normalise(a), normalise(b)
    return na == nb or jaccard(_grams(na), _grams(nb)) >= threshold - _EPS


class _Join:
    """Prefix-filter index over a fixed corpus of texts (the global 3-gram order needs them all)."""

    # Prefixes ELL - 1 tokens longer than the minimum: a true pair then shares at least ELL prefix
    # tokens (Wang et al., 2012), which rules out most candidates before any set is intersected.
    ELL = 4

    def __init__(self, texts: Sequence[str], threshold: float):
        _check_threshold(threshold)
        self.t = threshold
        self.norm = [normalise(s) for s in texts]
        grams = {s: _grams(s) for s in dict.fromkeys(self.norm)}
        df: Counter[str] = Counter()
        for g in grams.values():
            df.update(g)
        rank = {g: r for r, (g, _) in enumerate(sorted(df.items(), key=lambda kv: (kv[1], kv[0])))}
        self.sets: dict[str, frozenset[int]] = {}
        self.prefix: dict[str, list[int]] = {}
        self.need: dict[str, int] = {}  # ceil(t*|x|): any near-duplicate shares at least this many
        for s, g in grams.items():
            ordered = sorted(rank[x] for x in g)
            self.sets[s] = frozenset(ordered)
            self.need[s] = math.ceil(threshold * len(ordered) - _EPS)
            self.prefix[s] = ordered[:len(ordered) - self.need[s] + self.ELL]
        self.postings: dict[int, list[str]] = {}

    def index(self, s: str) -> None:
        for tok in self.prefix[s]:
            self.postings.setdefault(tok, []).append(s)

    def matches(self, s: str, *, first_only: bool, order: Callable[[str], int] | None = None) -> list[str]:
        """Indexed normalised texts that ``s`` is a near-duplicate of (``s`` itself excluded),
        tried in ``order``."""
        x, need_x, t = self.sets[s], self.need[s], self.t
        lo, hi = t * len(x) - _EPS, len(x) / t + _EPS
        lists = [self.postings[tok] for tok in self.prefix[s] if tok in self.postings]
        shared = Counter(chain.from_iterable(lists))  # counted in C: this is the hot loop
        if need_x >= self.ELL:
            candidates = [o for o, c in shared.items() if c >= self.ELL]
        else:  # a tiny x may share fewer than ELL tokens with its near-duplicates
            candidates = [o for o, c in shared.items() if c >= min(self.ELL, max(need_x, self.need[o]))]
        if order is not None:
            candidates.sort(key=order)
        found: list[str] = []
        for other in candidates:
            y = self.sets[other]
            if other == s or not lo <= len(y) <= hi:
                continue
            inter = len(x & y)
            if inter >= (t - _EPS) * (len(x) + len(y) - inter):
                found.append(other)
                if first_only:
                    return found
        return found


class _MinHash:
    """MinHash signatures (numpy, all texts at once) and LSH band keys of distinct normalised texts.

    Band sizes are picked so a pair at exactly the threshold shares a band with probability
    >= 99.8% (higher above it); pairs well below it rarely do, so few candidates are compared."""

    PERMS = 128
    RECALL = 0.998

    def __init__(self, uniq: list[str], threshold: float):
        self.rows = max(r for r in range(1, 17)
                        if 1 - (1 - threshold ** r) ** (self.PERMS // r) >= self.RECALL or r == 1)
        self.bands = self.PERMS // self.rows
        rng = np.random.default_rng(20240611)
        mult = rng.integers(1, 2**63, size=self.PERMS, dtype=np.uint64) | np.uint64(1)
        add = rng.integers(0, 2**63, size=self.PERMS, dtype=np.uint64)
        padded = [u.ljust(3, "\0") for u in uniq]  # a text under 3 characters is one "gram"
        codes = np.frombuffer("".join(padded).encode("utf-32-le"), dtype=np.uint32).astype(np.uint64)
        lengths = np.fromiter((len(u) for u in padded), dtype=np.int64, count=len(padded))
        ends = np.cumsum(lengths)
        valid = np.ones(len(codes), dtype=bool)
        valid[ends - 1] = valid[ends - 2] = False  # a 3-gram must not run into the next text
        pos = np.flatnonzero(valid)
        grams = (codes[pos] << np.uint64(42)) | (codes[pos + 1] << np.uint64(21)) | codes[pos + 2]
        grams *= np.uint64(0x9E3779B97F4A7C15)
        grams ^= grams >> np.uint64(31)
        starts = np.concatenate(([0], np.cumsum(lengths - 2)[:-1]))
        self.sig = np.empty((len(uniq), self.PERMS), dtype=np.uint32)

        def permute(ks: range) -> None:
            h = np.empty_like(grams)
            for k in ks:
                np.multiply(grams, mult[k], out=h)
                h += add[k]
                h >>= np.uint64(32)
                self.sig[:, k] = np.minimum.reduceat(h, starts)

        # numpy lets go of the GIL inside these loops, so two threads use two cores
        half = self.PERMS // 2
        with ThreadPoolExecutor(2) as pool:
            list(pool.map(permute, (range(half), range(half, self.PERMS))))
        band_mult = rng.integers(1, 2**63, size=(self.bands, self.rows), dtype=np.uint64) | np.uint64(1)
        used = self.sig[:, :self.bands * self.rows].astype(np.uint64).reshape(len(uniq), self.bands, self.rows)
        self.keys: list[list[int]] = (used * band_mult).sum(axis=2, dtype=np.uint64).tolist()


def near_duplicates(texts: Sequence[str], threshold: float = DEFAULT_THRESHOLD, *,
                    exact: bool = False) -> list[set[int]]:
    """Groups (two or more indices into ``texts``) of exact or near-duplicate texts; each group is
    led by its smallest index, and every member is a near-duplicate of that leader (checked
    exactly, so no false positives). Candidates come from MinHash-LSH, which may miss a pair right
    at the threshold (under 0.2% of them); ``exact=True`` uses the prefix-filter join instead,
    which misses none but slows down on large corpora of look-alike texts."""
    _check_threshold(threshold)
    if exact:
        return _near_duplicates_exact(texts, threshold)
    norm = [normalise(s) for s in texts]
    uniq = [u for u in dict.fromkeys(norm) if u]
    uid = {u: n for n, u in enumerate(uniq)}
    lsh = _MinHash(uniq, threshold) if uniq else None
    margin = 4 * math.sqrt(threshold * (1 - threshold) / _MinHash.PERMS) + 1 / _MinHash.PERMS
    floor = (threshold - margin) * _MinHash.PERMS
    gram_sets: dict[int, frozenset[str]] = {}
    buckets: dict[int, list[int]] = {}  # band key -> kept (leader) texts with that band
    leader_of: dict[str, int] = {}  # normalised text -> index of its group's leader
    groups: dict[int, set[int]] = {}
    for i, s in enumerate(norm):
        if s in leader_of:  # exact duplicate (after normalising) of something seen
            groups.setdefault(leader_of[s], {leader_of[s]}).add(i)
            continue
        lead = i
        if s:
            assert lsh is not None
            u = uid[s]
            keys = lsh.keys[u]
            found = {c for k in keys for c in buckets.get(k, ())}
            if found:
                cands = np.fromiter(found, dtype=np.int64, count=len(found))
                # the signature estimate screens candidates cheaply; the survivors are checked exactly
                agree = (lsh.sig[cands] == lsh.sig[u]).sum(axis=1)
                x = _grams(s)
                for c in sorted(cands[agree >= floor].tolist(), key=lambda c: leader_of[uniq[c]]):
                    if c not in gram_sets:
                        gram_sets[c] = _grams(uniq[c])
                    if jaccard(x, gram_sets[c]) >= threshold - _EPS:
                        lead = leader_of[uniq[c]]
                        break
            if lead == i:
                for k in keys:
                    buckets.setdefault(k, []).append(u)
        leader_of[s] = lead
        if lead != i:
            groups.setdefault(lead, {lead}).add(i)
    return [groups[k] for k in sorted(groups)]


def _near_duplicates_exact(texts: Sequence[str], threshold: float) -> list[set[int]]:
    join = _Join(texts, threshold)
    leader_of: dict[str, int] = {}
    groups: dict[int, set[int]] = {}
    for i, s in enumerate(join.norm):
        if s in leader_of:
            groups.setdefault(leader_of[s], {leader_of[s]}).add(i)
            continue
        hit = join.matches(s, first_only=True, order=leader_of.__getitem__) if s else []
        if hit:
            lead = leader_of[hit[0]]
            groups.setdefault(lead, {lead}).add(i)
            leader_of[s] = lead
        else:
            leader_of[s] = i
            if s:
                join.index(s)
    return [groups[k] for k in sorted(groups)]


def dedup(items: Iterable[T], key: Callable[[T], str] | None = None,
          threshold: float = DEFAULT_THRESHOLD) -> list[T]:
    """``items`` without near-duplicates, keeping the first of each group, in input order.
    ``key`` gives an item's text; by default the item itself for a string, a Task's ``request``,
    a TaskPlan's ``task``, a Trajectory's ``task.request``, else its ``text`` attribute."""
    items = list(items)
    texts = [(key or text_of)(it) for it in items]
    drop = {i for group in near_duplicates(texts, threshold) for i in group if i != min(group)}
    return [it for i, it in enumerate(items) if i not in drop]


def cross_duplicates(queries: Sequence[str], corpus: Sequence[str],
                     threshold: float = DEFAULT_THRESHOLD) -> dict[int, list[int]]:
    """For each query index with any near-duplicate in ``corpus``: the matching corpus indices."""
    join = _Join([*corpus, *queries], threshold)
    where: dict[str, list[int]] = {}
    for j, s in enumerate(join.norm[:len(corpus)]):
        if s and s not in where:
            join.index(s)
        where.setdefault(s, []).append(j)
    out: dict[int, list[int]] = {}
    for i, s in enumerate(join.norm[len(corpus):]):
        hits = ([s] if s in where else []) + (join.matches(s, first_only=False) if s else [])
        if hits:
            out[i] = sorted(j for h in hits for j in where[h])
    return out


def text_of(item: Any) -> str:
    """The natural-language text of a string, Task, TaskPlan, Trajectory or ``.text`` holder."""
    if isinstance(item, str):
        return item
    task = getattr(item, "task", None)
    for value in (getattr(item, "request", None), task, getattr(task, "request", None),
                  getattr(item, "text", None)):
        if isinstance(value, str):
            return value
    raise TypeError(f"no text in {type(item).__name__}; pass key= to say where the text is")


def _check_threshold(threshold: float) -> None:
    if not 0.0 < threshold <= 1.0:
        raise ValueError(f"threshold must be in (0, 1], got {threshold}")
