"""Lock-step decoding for many episodes at once: each episode keeps its own prefix KV cache, and the
actions of the episodes waiting for one are decoded together in one batch.

    lock = Lockstep(backend.model, backend.tokenizer, slots=8)
    agent = ReactAgent(backend, action_set, decoder=lock.slot(i))   # one per episode thread

Each episode runs in its own thread and calls its slot's ``generate`` (``Decoder.generate``'s
interface); the call blocks until the live episodes are waiting (``quorum``), then:

* each row's new prompt goes through its slot's ``Decoder`` prefix cache, one row at a time (the
  prefill is compute-bound: batching it gains nothing). A slot may first adopt the state of another
  slot or of the shared shelf that shares a longer prefix (a new episode's first screen);
* the rows' caches are left-padded into one batched cache with room to grow (appending does not
  copy the cache, as ``DynamicLayer``'s ``torch.cat`` does), and every row decodes one token per
  batch step under its own grammar (forced text one token per step, as ``batch_decoding`` does);
* afterwards each row's valid positions are copied back as its slot's contiguous cache.

A row decodes exactly the action it would alone (``tests/test_lockstep.py``).

Measured on this 2-core CPU (48 held-out Office tasks, demo LAM4, ``runs/diag`` scripts of session
9): a decode step costs 45 ms for one row and 90 ms for eight, yet whole episodes took 2.03 s each
in lock-step (8 slots) against 1.26 s in two worker processes of one thread each: half of an
episode's time is the prompt's prefill (~83 new tokens a step, compute-bound), and the worker
processes overlap one episode's environment with the other's model. So evaluation keeps the worker
processes by default; lock-step is ``lamforge eval --lockstep N``, for hardware where a batch row is
cheap.
"""

from __future__ import annotations

import math
import threading
import time

import torch

from lamforge.core.errors import DecodingError
from lamforge.models.batch_decoding import _next_token, _Row
from lamforge.models.decoding import (
    Decoder,
    DecodeResult,
    GrammarCache,
    _common_prefix,
    stop_token_ids,
    vocab_size,
)


class _Request:
    def __init__(self, slot: int, prompt: list[int], grammar: str | None, max_new_tokens: int, stop: str):
        self.slot, self.prompt, self.grammar = slot, prompt, grammar
        self.max_new_tokens, self.stop = max_new_tokens, stop
        self.result: DecodeResult | BaseException | None = None


class Lockstep:
    """Shared by the episode threads of one model; ``slot(i)`` is episode thread ``i``'s decoder."""

    def __init__(self, model, tokenizer, slots: int, grammars: GrammarCache | None = None, quorum: float = 1.0):
        self.model, self.tok = model.eval(), tokenizer
        self.stops = stop_token_ids(tokenizer)
        self.pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else self.stops[0]
        # compiled grammars: pass one cache to share them between the models of one tokenizer
        self.grammars = grammars or GrammarCache(model, tokenizer)
        # decode once this share of the live episodes waits (1.0: all of them, lock-step); below 1
        # the others' environments step while a batch decodes
        self.quorum = quorum
        self.vocab = vocab_size(model, tokenizer)
        # per slot, a Decoder holds that episode thread's prefix cache; recent states are shelved here,
        # shared by all slots, so a new episode starts from any slot's state on the same screen
        self._decoders = [Decoder(model, tokenizer, cache_entries=1) for _ in range(slots)]
        self._shelf: list[tuple[list[int], object]] = []
        self._cv = threading.Condition()
        self._live = 0
        self._waiting: dict[int, _Request] = {}
        self.batches = 0  # batch decodes run (for the speed report)
        self.rows = 0  # rows decoded in them

    def slot(self, i: int) -> _Slot:
        return _Slot(self, i)

    # --- coordination ------------------------------------------------------------------------
    def enter(self) -> None:
        """An episode thread starts: batches now wait for it too."""
        with self._cv:
            self._live += 1

    def leave(self) -> None:
        """An episode thread is done; if the rest are all waiting, decode them now."""
        with self._cv:
            self._live -= 1
            self._run_if_ready()

    def _generate(self, req: _Request) -> DecodeResult:
        with self._cv:
            self._waiting[req.slot] = req
            self._run_if_ready()
            while req.result is None:
                self._cv.wait()
        if isinstance(req.result, BaseException):
            raise req.result
        return req.result

    def _run_if_ready(self) -> None:
        # called with the lock held: the last thread to arrive decodes for everyone
        if not self._waiting or len(self._waiting) < math.ceil(self._live * self.quorum):
            return
        batch, self._waiting = list(self._waiting.values()), {}
        try:
            self._decode(batch)
        except BaseException as e:  # every waiting thread sees the failure, none hangs
            for r in batch:
                if r.result is None:
                    r.result = e
        self._cv.notify_all()

    # --- the batch ---------------------------------------------------------------------------
    @torch.inference_mode()
    def _decode(self, batch: list[_Request]) -> None:
        import xgrammar as xgr

        t0 = time.perf_counter()
        self.batches, self.rows = self.batches + 1, self.rows + len(batch)
        # the prompt: each row on its own, through its slot's prefix cache (prefill is compute-bound,
        # so batching it gains nothing, and padding rows of unequal length would waste some)
        firsts, reused = [], []
        for r in batch:
            self._adopt(r.slot, r.prompt)
            logits, n = self._decoders[r.slot]._prefill(r.prompt)
            firsts.append(logits)
            reused.append(n)
        cache, mask = self._batched([self._decoders[r.slot]._cache for r in batch])
        logits = torch.stack(firsts)
        next_pos = torch.tensor([len(r.prompt) for r in batch])

        rows = [_Row(xgr.GrammarMatcher(self.grammars.get(r.grammar)), r.max_new_tokens) if r.grammar is not None
                else _FreeRow(r.max_new_tokens, r.stop) for r in batch]
        fed: list[list[int]] = [[] for _ in batch]
        bitmask = xgr.allocate_token_bitmask(len(rows), self.vocab)
        while True:
            toks: list[int | None] = []
            for i, row in enumerate(rows):
                token = None
                if not row.done:
                    try:
                        token = (row.next(logits[i], self.tok, self.stops) if isinstance(row, _FreeRow)
                                 else _next_token(row, logits[i], bitmask, i, self.tok, self.stops))
                    except DecodingError as e:
                        row.error = str(e)
                    if token is None:
                        row.done = True
                    else:
                        fed[i].append(token)
                toks.append(token)
            if all(t is None for t in toks):
                break
            # a row with nothing to feed sends padding the mask hides; its position does not move
            step = torch.tensor([[0 if t is None else 1] for t in toks])
            mask = torch.cat([mask, step], dim=1)
            feed = torch.tensor([[self.pad if t is None else t] for t in toks])
            out = self.model(input_ids=feed, attention_mask=mask, position_ids=next_pos.unsqueeze(1),
                             past_key_values=cache, use_cache=True)
            cache, logits = out.past_key_values, out.logits[:, -1].float()
            next_pos = next_pos + step[:, 0]

        seconds = time.perf_counter() - t0
        for i, r in enumerate(batch):
            self._store(r.slot, mask[i].bool(), cache, i, r.prompt + fed[i])
            row = rows[i]
            if row.error:
                r.result = DecodingError(row.error)
                continue
            text = row.text(self.tok) if isinstance(row, _FreeRow) else "".join(row.pieces)
            r.result = DecodeResult(text=text, new_tokens=len(fed[i]), chosen_tokens=row.chosen,
                                    prompt_tokens=len(r.prompt), reused_tokens=reused[i],
                                    seconds=seconds / len(batch))

    def _adopt(self, slot: int, prompt: list[int]) -> None:
        """Start ``slot`` from the kept state (any slot's current one, or the shelf) that shares the
        longest prefix with ``prompt``, when it beats the slot's own; the slot's own state is
        shelved if most of it would be lost. Sequential decoding reused 87% of prompt tokens on
        held-out Office tasks, much of it a new episode's first screen seen in an earlier episode."""
        from transformers import DynamicCache

        own = self._decoders[slot]
        own_n = _common_prefix(own._ids, prompt) if own._cache is not None else 0
        best, best_n = None, own_n
        others = [(d._ids, d._cache) for i, d in enumerate(self._decoders) if i != slot and d._cache is not None]
        for ids, cache in self._shelf + others:
            n = _common_prefix(ids, prompt)
            if n > best_n:
                best, best_n = (ids, cache), n
        if best is None:
            return
        if own._cache is not None and own_n < len(own._ids) // 2:
            self._shelf.insert(0, (own._ids, own._cache))
            del self._shelf[_SHELF:]
        n = min(best_n, len(prompt) - 1)
        # a new cache over the first n positions (crop and append never write into the tensors shared)
        own._cache = DynamicCache([(layer.keys[:, :, :n], layer.values[:, :, :n]) for layer in best[1].layers])
        own._ids = list(best[0][:n])

    def _batched(self, caches: list) -> tuple:
        """The rows' caches left-padded into one, with room to grow: (cache, attention mask)."""
        from transformers import DynamicCache

        lengths = [c.layers[0].keys.shape[2] for c in caches]
        width = max(lengths)
        mask = torch.tensor([[0] * (width - n) + [1] * n for n in lengths], dtype=torch.long)
        layers = []
        for layer in range(len(caches[0].layers)):
            k0 = caches[0].layers[layer].keys
            keys = k0.new_zeros((len(caches), k0.shape[1], width + _ROOM, k0.shape[3]))
            values = torch.zeros_like(keys)
            for i, (c, n) in enumerate(zip(caches, lengths)):
                keys[i, :, width - n:width] = c.layers[layer].keys[0]
                values[i, :, width - n:width] = c.layers[layer].values[0]
            layers.append(_slab_layer(keys, values, width))
        cache = DynamicCache()
        cache.layers = layers
        return cache, mask

    def _store(self, slot: int, valid: torch.Tensor, cache, row: int, ids: list[int]) -> None:
        """Row ``row``'s valid positions, copied back as its slot's own contiguous cache."""
        from transformers import DynamicCache

        kv = [(layer.keys[row:row + 1, :, valid].clone(), layer.values[row:row + 1, :, valid].clone())
              for layer in cache.layers]
        if kv[0][0].shape[2] != len(ids):
            raise DecodingError(f"lock-step cache holds {kv[0][0].shape[2]} positions for {len(ids)} tokens")
        decoder = self._decoders[slot]
        decoder._cache, decoder._ids = DynamicCache(kv), list(ids)


_SHELF = 8  # states kept besides the slots' current ones
_ROOM = 96  # positions a batched cache has free before it must grow (an action is ~10-40 tokens)


def _slab_layer(keys: torch.Tensor, values: torch.Tensor, length: int):
    """A cache layer whose keys and values sit in a buffer with room to grow. ``DynamicLayer``
    appends with ``torch.cat``, copying the whole cache for every token: for 8 rows of ~2,000
    positions that copy, not the model, was most of a decoding step."""
    from transformers.cache_utils import DynamicLayer

    class SlabLayer(DynamicLayer):
        def __init__(self):
            super().__init__()
            self.dtype, self.device = keys.dtype, keys.device
            self._k, self._v, self.n = keys, values, length
            self.is_initialized = True
            self._views()

        def _views(self) -> None:
            self.keys, self.values = self._k[:, :, :self.n], self._v[:, :, :self.n]

        def update(self, key_states: torch.Tensor, value_states: torch.Tensor, *args, **kwargs):
            m = key_states.shape[-2]
            if self.n + m > self._k.shape[2]:
                room = self._k.new_zeros(*self._k.shape[:2], max(_ROOM, m), self._k.shape[3])
                self._k, self._v = torch.cat([self._k, room], dim=2), torch.cat([self._v, room.clone()], dim=2)
            self._k[:, :, self.n:self.n + m] = key_states
            self._v[:, :, self.n:self.n + m] = value_states
            self.n += m
            self._views()
            return self.keys, self.values

    return SlabLayer()


class _FreeRow:
    """A row without a grammar (a plan): greedy to an end token or the stop string."""

    def __init__(self, max_new_tokens: int, stop: str):
        self.max_new_tokens, self.stop = max_new_tokens, stop
        self.tokens: list[int] = []
        self.chosen = 0
        self.done = False
        self.error: str | None = None

    def next(self, logits: torch.Tensor, tokenizer, stops: list[int]) -> int | None:
        if self.chosen >= self.max_new_tokens:
            return None
        token = int(torch.argmax(logits))
        if token in stops:
            return None
        self.chosen += 1
        self.tokens.append(token)
        if self.stop and self.stop in tokenizer.decode(self.tokens):
            self.done = True  # the stop string is in: this token is fed, nothing after it
        return token

    def text(self, tokenizer) -> str:
        text = tokenizer.decode(self.tokens, skip_special_tokens=True)
        return text.split(self.stop)[0] if self.stop else text


class _Slot:
    """``Decoder.generate``'s interface for one episode thread (greedy only)."""

    def __init__(self, lock: Lockstep, index: int):
        self.lock, self.index = lock, index

    def generate(self, prompt: list[int], *, grammar: str | None = None, max_new_tokens: int = 64,
                 stop: str = "\n", temperature: float = 0.0, generator=None) -> DecodeResult:
        if temperature > 0:
            raise ValueError("lock-step decoding is greedy (evaluation); sampling goes through Decoder")
        return self.lock._generate(_Request(self.index, list(prompt), grammar, max_new_tokens, stop))
