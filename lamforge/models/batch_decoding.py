"""Grammar-constrained greedy decoding of many independent prompts in one batch.

    texts = generate_constrained_batch(model, tokenizer, [ids_a, ids_b], [grammar_a, grammar_b])

For single-turn jobs (BFCL questions, scoring many requests) where nothing is shared between the
prompts: on this CPU a batch of 8 decodes ~4x the tokens per second of one prompt at a time, because
a 135M model's step costs about the same for one row as for eight.

It makes the same choices as ``Decoder.generate`` (``lamforge.models.decoding``): greedy inside the
grammar, text the grammar forces fed as the tokens of that text (there one forward pass, here one
token per batch step, which gives the same logits), the forced tokens not counted against
``max_new_tokens``, and a free-text value that runs past the budget closed the way the grammar
allows. Rows are left-padded; a row that is done keeps feeding padding until the batch ends.
"""

from __future__ import annotations

import torch

from lamforge.core.errors import DecodingError
from lamforge.models.decoding import (
    close_after_budget,
    grammar_compiler,
    stop_token_ids,
    vocab_size,
)


class _Row:
    """One prompt's grammar state and output."""

    def __init__(self, matcher, max_new_tokens: int):
        self.matcher = matcher
        self.max_new_tokens = max_new_tokens
        self.queue: list[int] = []  # tokens of forced text still to feed
        self.pieces: list[str] = []
        self.chosen = 0
        self.done = False
        self.error: str | None = None


@torch.inference_mode()
def generate_constrained_batch(model, tokenizer, prompts: list[list[int]], grammars: list[str], *,
                               max_new_tokens: int = 128, compiler=None) -> list[str]:
    """The greedy constrained completion of each prompt (token ids) under its EBNF grammar.

    A row whose grammar cannot be closed within the budget gets ``"<unfinished: reason>"`` (the
    caller scores it as a wrong answer) instead of failing the whole batch.
    """
    import xgrammar as xgr

    if len(prompts) != len(grammars):
        raise ValueError("one grammar per prompt")
    if not prompts:
        return []
    stops = stop_token_ids(tokenizer)
    if compiler is None:
        compiler = grammar_compiler(model, tokenizer)
    compiled: dict[str, object] = {}
    rows = []
    for g in grammars:
        if g not in compiled:
            compiled[g] = compiler.compile_grammar(g)
        rows.append(_Row(xgr.GrammarMatcher(compiled[g]), max_new_tokens))

    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else stops[0]
    cache, logits, mask, next_pos = _prefill(model, prompts, pad)
    bitmask = xgr.allocate_token_bitmask(len(rows), vocab_size(model, tokenizer))

    while not all(r.done for r in rows):
        feed = [pad] * len(rows)
        for i, r in enumerate(rows):
            if r.done:
                continue
            try:
                token = _next_token(r, logits[i], bitmask, i, tokenizer, stops)
            except DecodingError as e:
                r.done, r.error = True, str(e)
                continue
            if token is None:
                r.done = True
                continue
            feed[i] = token
        if all(r.done for r in rows):
            break
        cache, logits, mask, next_pos = _advance(model, feed, cache, mask, next_pos)
    return [f"<unfinished: {r.error}>" if r.error else "".join(r.pieces) for r in rows]


def _next_token(r: _Row, logits: torch.Tensor, bitmask, i: int, tokenizer, stops: list[int]) -> int | None:
    """The token row ``r`` feeds next, or None when its answer is complete."""
    import xgrammar as xgr

    if r.queue:
        return r.queue.pop(0)
    if r.matcher.is_terminated():
        return None
    forced = r.matcher.find_jump_forward_string()
    if forced:
        if not r.matcher.accept_string(forced):
            raise DecodingError(f"grammar refused its own forced text {forced!r}")
        r.pieces.append(forced)
        r.queue = tokenizer.encode(forced, add_special_tokens=False)
        return r.queue.pop(0) if r.queue else _next_token(r, logits, bitmask, i, tokenizer, stops)
    if r.chosen >= r.max_new_tokens:
        r.pieces.append(close_after_budget(r.matcher))
        return None
    r.matcher.fill_next_token_bitmask(bitmask, i)
    row = logits.unsqueeze(0).clone()
    xgr.apply_token_bitmask_inplace(row, bitmask[i:i + 1])
    token = int(torch.argmax(row[0]))
    if not r.matcher.accept_token(token):
        raise DecodingError(f"grammar refused token {token} it allowed")
    r.chosen += 1
    if token in stops:
        return None
    r.pieces.append(tokenizer.decode([token]))
    return token


@torch.inference_mode()
def generate_text_batch(model, tokenizer, prompts: list[list[int]], *, max_new_tokens: int = 64,
                        stop: str = "\n\n", batch_size: int = 16) -> list[str]:
    """Greedy free-text completions of many prompts, ``batch_size`` rows at a time (plans for the
    planning evaluation: 60 short prompts of one model cost about 4 decodes instead of 60). A row ends
    at an end token or at ``stop``; the text before ``stop`` is returned, as ``Decoder.generate`` does."""
    out: list[str] = []
    stops = set(stop_token_ids(tokenizer))
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else next(iter(stops))
    for at in range(0, len(prompts), batch_size):
        chunk = prompts[at:at + batch_size]
        cache, logits, mask, next_pos = _prefill(model, chunk, pad)
        made: list[list[int]] = [[] for _ in chunk]
        done = [False] * len(chunk)
        for _ in range(max_new_tokens):
            feed = []
            for i, row in enumerate(made):
                token = int(torch.argmax(logits[i]))
                if not done[i]:
                    if token in stops:
                        done[i] = True
                    else:
                        row.append(token)
                        done[i] = stop in tokenizer.decode(row) if stop else False
                feed.append(pad if done[i] else token)
            if all(done):
                break
            cache, logits, mask, next_pos = _advance(model, feed, cache, mask, next_pos)
        for row in made:
            text = tokenizer.decode(row, skip_special_tokens=True)
            out.append(text.split(stop)[0] if stop else text)
    return out


def _prefill(model, prompts: list[list[int]], pad: int):
    """Left-padded prompts through the model: (cache, last logits, attention mask, next positions)."""
    ids = torch.tensor([[pad] * (max(map(len, prompts)) - len(p)) + list(p) for p in prompts])
    mask = torch.tensor([[0] * (ids.size(1) - len(p)) + [1] * len(p) for p in prompts])
    positions = (mask.cumsum(-1) - 1).clamp(min=0)
    out = model(input_ids=ids, attention_mask=mask, position_ids=positions, use_cache=True, logits_to_keep=1)
    return out.past_key_values, out.logits[:, -1].float(), mask, positions[:, -1] + 1


def _advance(model, feed: list[int], cache, mask, next_pos):
    """One token per row after the cached ones: (cache, last logits, attention mask, next positions)."""
    mask = torch.cat([mask, torch.ones(len(feed), 1, dtype=mask.dtype)], dim=1)
    out = model(input_ids=torch.tensor(feed).unsqueeze(1), attention_mask=mask,
                position_ids=next_pos.unsqueeze(1), past_key_values=cache, use_cache=True)
    return out.past_key_values, out.logits[:, -1].float(), mask, next_pos + 1
