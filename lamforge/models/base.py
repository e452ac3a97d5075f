"""The chat interface every model backend implements.

    backend = load_backend("smollm2-135m")          # lamforge.models
    result = backend.chat([{"role": "user", "content": "Hi"}], max_tokens=32)
    print(result.text, result.prompt_tokens, result.completion_tokens, result.seconds)

Messages are OpenAI-style dicts (``role``, ``content``); ``tools`` are OpenAI-style tool schemas.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass


@dataclass
class ChatResult:
    text: str
    prompt_tokens: int
    completion_tokens: int
    seconds: float


class ChatBackend(ABC):
    """A model that answers a chat. Subclasses set ``name`` (shown in logs and by the server) and say
    what they can do: ``local`` backends hold the model and tokenizer in this process (``.model``,
    ``.tokenizer``), so decoding can be constrained by a grammar, batched and prefix-cached; the others
    (a server, llama.cpp) answer text only."""

    name: str = "backend"
    local: bool = False

    @abstractmethod
    def chat(
        self,
        messages: list[dict],
        *,
        max_tokens: int = 256,
        temperature: float = 0.0,
        tools: list[dict] | None = None,
        stop: list[str] | None = None,
    ) -> ChatResult:
        """One assistant reply to ``messages``; greedy when ``temperature`` is 0."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r})"


def cut_at_stop(text: str, stop: list[str] | None) -> tuple[str, bool]:
    """``text`` cut before the earliest stop string, and whether one was found."""
    if not stop:
        return text, False
    cuts = [i for i in (text.find(s) for s in stop if s) if i >= 0]
    return (text[: min(cuts)], True) if cuts else (text, False)
