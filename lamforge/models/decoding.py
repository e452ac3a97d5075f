"""Greedy decoding for agents, on a local transformers model:

* **grammar-constrained** (xgrammar): at every token only the tokens the action grammar of the
  current observation admits are allowed, so the line always parses into a valid action; text the
  grammar forces (``control=``, the rest of a function name) is fed in one forward pass
  ("jump-forward") instead of token by token;
* **free-form**: plain greedy decoding to the end of the line (the baseline, and plans);
* **prefix KV cache**: the cache of the previous call is kept and cropped to the longest common
  prefix with the next prompt, so the system prompt, the request and the history are not computed
  again at each step.

    decoder = Decoder(backend.model, backend.tokenizer)
    result = decoder.generate(prompt_ids, grammar=ebnf)
"""

from __future__ import annotations

import functools
import time
from dataclasses import dataclass

import torch

from lamforge.core.errors import DecodingError


@dataclass
class DecodeResult:
    text: str
    new_tokens: int  # tokens appended after the prompt (chosen + forced)
    chosen_tokens: int  # tokens the model picked (one forward each)
    prompt_tokens: int
    reused_tokens: int  # prompt tokens served from the prefix cache
    seconds: float
    entropy: float = 0.0  # nats, summed over the grammar-masked choices (constrained decoding)


class Decoder:
    def __init__(self, model, tokenizer, prefix_cache: bool = True, cache_entries: int = 8):
        self.model = model.eval()
        self.tok = tokenizer
        self.prefix_cache = prefix_cache
        self.cache_entries = cache_entries  # KV states kept (LRU): one per recent episode lineage
        self._ids: list[int] = []
        self._cache = None
        self._shelf: list[tuple[list[int], object]] = []  # other recent (ids, cache) states
        self.grammars = GrammarCache(model, tokenizer)
        self.vocab_size = vocab_size(model, tokenizer)
        self.stop_ids = stop_token_ids(tokenizer)

    # --- model calls -----------------------------------------------------------------------
    @torch.inference_mode()
    def _feed(self, ids: list[int]) -> torch.Tensor:
        """Run ``ids`` after the cached ones; returns the logits of the last position."""
        out = self.model(input_ids=torch.tensor([ids]), past_key_values=self._cache, use_cache=True,
                         logits_to_keep=1)
        self._cache = out.past_key_values
        self._ids.extend(ids)
        return out.logits[0, -1].float()

    def _prefill(self, prompt: list[int]) -> tuple[torch.Tensor, int]:
        if self.prefix_cache:
            self._pick_entry(prompt)
        n = 0
        if self.prefix_cache and self._cache is not None:
            # keep >= 1 prompt token to compute logits from
            n = min(_common_prefix(self._ids, prompt), len(prompt) - 1)
        if n < len(self._ids):
            self._shelve_if_diverging(prompt, n)
        if n == 0:
            self._cache, self._ids = None, []
        elif n < len(self._ids):
            self._cache.crop(n - len(self._ids))
            self._ids = self._ids[:n]
        return self._feed(prompt[n:]), n

    def _pick_entry(self, prompt: list[int]) -> None:
        """Make the kept state sharing the longest prefix with ``prompt`` the current one, so a new
        episode on a screen seen before (same template) reuses its system prompt and first screen."""
        if not self._shelf:
            return
        best = max(range(len(self._shelf)), key=lambda i: _common_prefix(self._shelf[i][0], prompt))
        if _common_prefix(self._shelf[best][0], prompt) > _common_prefix(self._ids, prompt):
            current = (self._ids, self._cache)
            self._ids, self._cache = self._shelf.pop(best)
            if current[1] is not None:
                self._shelf.insert(0, current)
        del self._shelf[self.cache_entries - 1:]

    def _shelve_if_diverging(self, prompt: list[int], n: int) -> None:
        """Before cutting the current state back to ``n`` tokens, keep a copy when most of it would be lost."""
        if self.cache_entries > 1 and self._cache is not None and n < len(self._ids) // 2:
            import copy

            self._shelf.insert(0, (list(self._ids), copy.deepcopy(self._cache)))
            del self._shelf[self.cache_entries - 1:]

    def reset(self) -> None:
        self._cache, self._ids, self._shelf = None, [], []

    # --- generation --------------------------------------------------------------------------
    def generate(self, prompt: list[int], *, grammar: str | None = None, max_new_tokens: int = 64,
                 stop: str = "\n", temperature: float = 0.0,
                 generator: torch.Generator | None = None) -> DecodeResult:
        """Greedy by default; ``temperature > 0`` samples (self-boosting exploration draws several
        different attempts at a task this way), still inside the grammar."""
        t0 = time.perf_counter()
        pick = functools.partial(_pick, temperature=temperature, generator=generator)
        logits, reused = self._prefill(prompt)
        start = len(self._ids)
        chosen = 0
        if grammar is None:
            while chosen < max_new_tokens:
                token = pick(logits)
                if token in self.stop_ids:
                    break
                chosen += 1
                logits = self._feed([token])
                if stop and stop in self.tok.decode(self._ids[start:]):
                    break
            text = self.tok.decode(self._ids[start:], skip_special_tokens=True).split(stop)[0] if stop else \
                self.tok.decode(self._ids[start:], skip_special_tokens=True)
        else:
            text, chosen, entropy = self._constrained(logits, grammar, max_new_tokens, start, pick)
            return DecodeResult(text=text, new_tokens=len(self._ids) - start, chosen_tokens=chosen,
                                prompt_tokens=len(prompt), reused_tokens=reused,
                                seconds=time.perf_counter() - t0, entropy=entropy)
        return DecodeResult(text=text, new_tokens=len(self._ids) - start, chosen_tokens=chosen,
                            prompt_tokens=len(prompt), reused_tokens=reused, seconds=time.perf_counter() - t0)

    def _constrained(self, logits: torch.Tensor, grammar: str, max_new_tokens: int, start: int, pick):
        import xgrammar as xgr

        matcher = xgr.GrammarMatcher(self.grammars.get(grammar))
        bitmask = xgr.allocate_token_bitmask(1, self.vocab_size)
        pieces: list[str] = []
        chosen, entropy = 0, 0.0
        while not matcher.is_terminated():
            forced = matcher.find_jump_forward_string()
            if forced:
                ids = self.tok.encode(forced, add_special_tokens=False)
                if not matcher.accept_string(forced):
                    raise DecodingError(f"grammar refused its own forced text {forced!r}")
                pieces.append(forced)
                logits = self._feed(ids)
                continue
            if chosen >= max_new_tokens:
                pieces.append(close_after_budget(matcher))
                break
            matcher.fill_next_token_bitmask(bitmask)
            row = logits.unsqueeze(0)
            xgr.apply_token_bitmask_inplace(row, bitmask.to(row.device))
            logp = torch.log_softmax(row[0], dim=-1)
            entropy -= float(torch.nan_to_num(logp.exp() * logp).sum())  # masked tokens give 0 * -inf
            token = pick(row[0])
            if not matcher.accept_token(token):
                raise DecodingError(f"grammar refused token {token} it allowed")
            chosen += 1
            if token in self.stop_ids:
                break
            pieces.append(self.tok.decode([token]))
            logits = self._feed([token])
        return "".join(pieces), chosen, entropy


def prompt_ids(tokenizer, messages: list[dict]) -> list[int]:
    """The token ids of ``messages`` in the chat template, ending where the assistant's reply starts."""
    ids = tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=True, return_dict=False)
    return ids if isinstance(ids, list) else list(ids["input_ids"])  # some tokenizers return a BatchEncoding


def vocab_size(model, tokenizer) -> int:
    """Rows of the logits (the model may pad its vocabulary beyond the tokenizer's)."""
    return max(getattr(model.config, "vocab_size", len(tokenizer)), len(tokenizer))


class GrammarCache:
    """Grammars compiled for one tokenizer, each once: episodes keep meeting the same screens (the
    compiler is built on first use; the cache is cleared past 256 grammars)."""

    def __init__(self, model, tokenizer):
        self.model, self.tok = model, tokenizer
        self._compiler = None
        self._grammars: dict[str, object] = {}

    def get(self, grammar: str):
        if self._compiler is None:
            self._compiler = grammar_compiler(self.model, self.tok)
        if grammar not in self._grammars:
            if len(self._grammars) > 256:
                self._grammars.clear()
            self._grammars[grammar] = self._compiler.compile_grammar(grammar)
        return self._grammars[grammar]


def grammar_compiler(model, tokenizer):
    """An xgrammar compiler for ``tokenizer``'s vocabulary, with the reply's stop tokens."""
    import xgrammar as xgr

    info = xgr.TokenizerInfo.from_huggingface(tokenizer, vocab_size=vocab_size(model, tokenizer),
                                              stop_token_ids=stop_token_ids(tokenizer))
    return xgr.GrammarCompiler(info)


def close_after_budget(matcher) -> str:
    """A free-text argument ran past the token budget: the text that closes it the way the grammar
    allows (accepted into ``matcher``), or DecodingError when nothing can."""
    closer = next((c for c in ('")', ")", '"', "") if _accepts_and_ends(matcher, c)), None)
    if closer is None:
        raise DecodingError("the action grammar cannot be closed after the token budget")
    return closer


def stop_token_ids(tokenizer) -> list[int]:
    """The tokens that end a reply: EOS and the chat format's end-of-turn tokens."""
    return sorted({i for i in (tokenizer.eos_token_id, tokenizer.convert_tokens_to_ids("<|im_end|>"),
                               tokenizer.convert_tokens_to_ids("<|endoftext|>"))
                   if isinstance(i, int) and i >= 0 and i != tokenizer.unk_token_id})


def _pick(logits: torch.Tensor, temperature: float, generator: torch.Generator | None) -> int:
    if temperature <= 0:
        return int(torch.argmax(logits))
    probs = torch.softmax(logits.float() / temperature, dim=-1)  # masked tokens (-inf) get 0
    return int(torch.multinomial(probs, 1, generator=generator))


def _common_prefix(a: list[int], b: list[int]) -> int:
    n, limit = 0, min(len(a), len(b))
    while n < limit and a[n] == b[n]:
        n += 1
    return n


def _accepts_and_ends(matcher, closer: str) -> bool:
    """Accept ``closer`` only if the action is complete after it; otherwise leave the matcher as it was."""
    if closer and not matcher.accept_string(closer):
        return False
    if matcher.is_completed():
        return True
    if closer:
        matcher.rollback(1)  # accept_string is one step for rollback
    return False
