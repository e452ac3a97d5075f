"""Talk to any OpenAI-compatible chat server (lamforge serve, llama.cpp, vLLM, Ollama, OpenAI).

    backend = OpenAIBackend(model="smollm2-135m", base_url="http://127.0.0.1:8000/v1")
    backend.list_models()
    result = backend.chat([{"role": "user", "content": "Hi"}], max_tokens=32)

``base_url`` and ``api_key`` default to ``LAMFORGE_BASE_URL``/``OPENAI_BASE_URL`` and
``LAMFORGE_API_KEY``/``OPENAI_API_KEY``. Connection errors, timeouts, HTTP 429 and 5xx are
retried with exponential backoff; what still fails raises ``BackendError``.
"""

from __future__ import annotations

import json
import os
import time
from typing import Any

import httpx

from lamforge.core.errors import BackendError
from lamforge.models.base import ChatBackend, ChatResult

DEFAULT_BASE_URL = "http://127.0.0.1:8000/v1"  # where `lamforge serve` listens


def _env(*names: str) -> str | None:
    for name in names:
        if os.environ.get(name):
            return os.environ[name]
    return None


def _excerpt(text: str, limit: int = 300) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit] + "..."


class OpenAIBackend(ChatBackend):
    """An OpenAI-compatible ``/chat/completions`` endpoint over HTTP."""

    def __init__(
        self,
        model: str | None = None,
        *,
        base_url: str | None = None,
        api_key: str | None = None,
        timeout: float = 60.0,
        retries: int = 2,
        backoff: float = 0.5,
    ) -> None:
        """``retries`` is the number of tries after the first; waits are backoff * 2**n s.
        With no ``model``, the first one the server lists is used."""
        self.base_url = (
            base_url or _env("LAMFORGE_BASE_URL", "OPENAI_BASE_URL") or DEFAULT_BASE_URL
        ).rstrip("/")
        self.api_key = api_key or _env("LAMFORGE_API_KEY", "OPENAI_API_KEY")
        self.model = model
        self.timeout = timeout
        self.retries = max(0, retries)
        self.backoff = backoff
        headers = {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}
        self._client = httpx.Client(timeout=timeout, headers=headers)

    @property
    def name(self) -> str:  # type: ignore[override]
        return f"openai:{self.model or '?'}@{self.base_url}"

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> OpenAIBackend:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- HTTP with retries -----------------------------------------------------------------

    def _request(self, method: str, path: str, body: dict | None = None) -> Any:
        url = f"{self.base_url}{path}"
        tries = self.retries + 1
        problem = ""
        for attempt in range(tries):
            if attempt:
                time.sleep(self.backoff * 2 ** (attempt - 1))
            try:
                response = self._client.request(method, url, json=body)
            except httpx.ConnectError:
                problem = f"could not connect to {url}: is the server running?"
                continue
            except httpx.TimeoutException:
                problem = f"request to {url} timed out after {self.timeout:g} s"
                continue
            except httpx.TransportError as exc:
                problem = f"connection to {url} failed: {exc!r}"
                continue
            if response.status_code == 429 or response.status_code >= 500:
                problem = f"HTTP {response.status_code} from {url}: {_excerpt(response.text)}"
                continue
            if response.status_code >= 400:
                raise BackendError(
                    f"HTTP {response.status_code} from {url}: {_excerpt(response.text)}"
                )
            try:
                return response.json()
            except ValueError:
                raise BackendError(
                    f"{url} answered with something that is not JSON: {_excerpt(response.text)!r}"
                ) from None
        raise BackendError(f"{problem} (gave up after {tries} {'try' if tries == 1 else 'tries'})")

    def list_models(self) -> list[str]:
        data = self._request("GET", "/models")
        try:
            return [str(item["id"]) for item in data["data"]]
        except (KeyError, TypeError) as exc:
            raise BackendError(
                f"{self.base_url}/models answered without a model list: {_excerpt(str(data))}"
            ) from exc

    # --- chat ------------------------------------------------------------------------------

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
        if self.model is None:
            models = self.list_models()
            if not models:
                raise BackendError(f"{self.base_url}/models lists no model; pass model=...")
            self.model = models[0]
        body: dict[str, Any] = {
            "model": self.model,
            "messages": messages,
            "max_tokens": max_tokens,
            "temperature": temperature,
        }
        if tools:
            body["tools"] = tools
        if stop:
            body["stop"] = list(stop)
        data = self._request("POST", "/chat/completions", body)
        try:
            message = data["choices"][0]["message"]
            text = message.get("content") or ""
            if not text and message.get("tool_calls"):
                text = _tool_call_text(message["tool_calls"][0])
            usage = data.get("usage") or {}
            return ChatResult(
                text=text,
                prompt_tokens=int(usage.get("prompt_tokens") or 0),
                completion_tokens=int(usage.get("completion_tokens") or 0),
                seconds=time.perf_counter() - start,
            )
        except (KeyError, IndexError, TypeError, AttributeError, ValueError) as exc:
            raise BackendError(
                f"{self.base_url}/chat/completions answered without a usable choice "
                f"({type(exc).__name__}: {exc}): {_excerpt(json.dumps(data))}"
            ) from exc


def _tool_call_text(call: dict) -> str:
    """A tool call as ``{"name": ..., "arguments": {...}}`` JSON text, for action parsers."""
    function = call["function"]
    arguments = function.get("arguments") or {}
    if isinstance(arguments, str):
        try:
            arguments = json.loads(arguments)
        except ValueError:
            pass  # keep the raw text: the parser downstream reports what is wrong with it
    return json.dumps({"name": function["name"], "arguments": arguments})
