"""Run a GGUF file with llama.cpp (about 5x faster than transformers on CPU).

    backend = LlamaCppBackend("model.gguf", n_ctx=4096)
    result = backend.chat([{"role": "user", "content": "Hi"}], max_tokens=32)

Needs the optional ``llama-cpp-python`` package: ``pip install 'lamforge[llama]'``.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from lamforge.core.errors import BackendError, DependencyNotInstalled, ModelNotFound
from lamforge.models.base import ChatBackend, ChatResult

INSTALL_HINT = (
    "llama-cpp-python is not installed. Install it with: pip install 'lamforge[llama]' "
    "(it compiles llama.cpp, which takes 10-15 minutes on a small machine), "
    "or use the default transformers engine."
)


def _import_llama() -> Any:
    try:
        from llama_cpp import Llama
    except ImportError as exc:
        raise DependencyNotInstalled(INSTALL_HINT) from exc
    return Llama


class LlamaCppBackend(ChatBackend):
    """A GGUF model in llama.cpp, chatting through its built-in chat template."""

    def __init__(self, model_path: str | Path, *, n_ctx: int = 4096, n_threads: int = 2) -> None:
        path = Path(model_path).expanduser()
        if not path.is_file():
            raise ModelNotFound(f"GGUF file not found: {path}")
        Llama = _import_llama()
        self.name = str(model_path)
        self.llama = Llama(model_path=str(path), n_ctx=n_ctx, n_threads=n_threads, verbose=False)

    def chat(
        self,
        messages: list[dict],
        *,
        max_tokens: int = 256,
        temperature: float = 0.0,
        tools: list[dict] | None = None,
        stop: list[str] | None = None,
    ) -> ChatResult:
        start = time.perf_counter()
        kwargs: dict[str, Any] = {"max_tokens": max_tokens, "temperature": temperature}
        if temperature <= 0:
            kwargs["top_k"] = 1  # llama.cpp samples even at temperature 0 unless told not to
        if tools:
            kwargs["tools"] = tools
        if stop:
            kwargs["stop"] = list(stop)
        try:
            reply = self.llama.create_chat_completion(messages=messages, **kwargs)
            text = reply["choices"][0]["message"].get("content") or ""
            usage = reply.get("usage") or {}
        except (KeyError, IndexError, TypeError, ValueError, RuntimeError) as exc:
            raise BackendError(f"llama.cpp failed on {self.name}: {exc}") from exc
        return ChatResult(
            text=text,
            prompt_tokens=int(usage.get("prompt_tokens", 0)),
            completion_tokens=int(usage.get("completion_tokens", 0)),
            seconds=time.perf_counter() - start,
        )
