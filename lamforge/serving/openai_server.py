"""Serve any lamforge chat backend as an OpenAI-compatible HTTP API.

    backend = load_backend("runs/sft/final")
    serve(backend, "my-lam", port=8000)      # blocks; loopback only unless host is changed
    # or: app = create_app(backend, "my-lam") and run it with any ASGI server

Endpoints: ``GET /v1/models``, ``POST /v1/chat/completions`` (messages, max_tokens, temperature,
stop, tools; no streaming) and ``GET /health``. Any OpenAI client, including
``OpenAIBackend(base_url="http://127.0.0.1:8000/v1")``, can talk to it.
"""

from __future__ import annotations

import threading
import time
import uuid
from typing import Any

from fastapi import FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from jinja2 import TemplateError
from pydantic import BaseModel, ConfigDict, Field

from lamforge.models.base import ChatBackend


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="allow")  # tool_calls, tool_call_id, name, ...

    role: str = Field(min_length=1)
    content: str | list[dict[str, Any]] | None = None


class ChatRequest(BaseModel):
    model: str | None = None
    messages: list[ChatMessage] = Field(min_length=1)
    max_tokens: int | None = Field(default=None, ge=1)
    max_completion_tokens: int | None = Field(default=None, ge=1)
    temperature: float = Field(default=0.0, ge=0.0, le=2.0)
    stop: str | list[str] | None = None
    tools: list[dict[str, Any]] | None = None
    stream: bool = False
    n: int = 1


def _error(status: int, message: str, kind: str = "invalid_request_error") -> JSONResponse:
    return JSONResponse(status_code=status, content={"error": {"message": message, "type": kind}})


def _message_dict(message: ChatMessage) -> dict[str, Any]:
    data = message.model_dump(exclude_none=True)
    if isinstance(message.content, list):
        # OpenAI content parts: the chat templates of small models want plain text.
        data["content"] = "".join(
            str(part.get("text", "")) for part in message.content if part.get("type") == "text"
        )
    return data


def create_app(backend: ChatBackend, model_name: str) -> FastAPI:
    """A FastAPI app answering OpenAI chat requests with ``backend`` under ``model_name``."""
    app = FastAPI(title="lamforge", description=f"OpenAI-compatible API for {model_name}")
    # A local model is one set of weights: generating for two requests at once only makes both
    # slower (and transformers' generate is not meant to be shared across threads).
    lock = threading.Lock()
    created = int(time.time())

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err.get('loc', ()) if p != 'body') or 'body'}: "
            f"{err.get('msg', 'invalid')}"
            for err in exc.errors()
        )
        return _error(422, f"Bad request body: {problems}")

    @app.get("/health")
    def health() -> dict[str, str]:
        return {"status": "ok", "model": model_name}

    @app.get("/v1/models")
    def models() -> dict[str, Any]:
        return {
            "object": "list",
            "data": [
                {"id": model_name, "object": "model", "created": created, "owned_by": "lamforge"}
            ],
        }

    @app.post("/v1/chat/completions", response_model=None)
    async def chat_completions(request: ChatRequest) -> dict[str, Any] | JSONResponse:
        if request.stream:
            return _error(400, "Streaming is not supported by this server; set stream=false.")
        if request.n != 1:
            return _error(400, "Only n=1 is supported.")
        max_tokens = request.max_completion_tokens or request.max_tokens or 256
        stop = [request.stop] if isinstance(request.stop, str) else request.stop
        messages = [_message_dict(m) for m in request.messages]

        def run() -> Any:
            with lock:
                return backend.chat(
                    messages,
                    max_tokens=max_tokens,
                    temperature=request.temperature,
                    tools=request.tools,
                    stop=stop,
                )

        try:
            result = await run_in_threadpool(run)
        except (ValueError, TypeError, TemplateError) as exc:
            # e.g. a chat template that rejects the message roles it was given
            return _error(400, f"The model could not take these messages: {exc}")
        except Exception as exc:  # noqa: BLE001 - the client gets the reason, not a bare 500
            return _error(500, f"The model failed: {type(exc).__name__}: {exc}", "server_error")
        finish = "length" if result.completion_tokens >= max_tokens else "stop"
        return {
            "id": f"chatcmpl-{uuid.uuid4().hex[:24]}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": model_name,
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": result.text},
                    "finish_reason": finish,
                }
            ],
            "usage": {
                "prompt_tokens": result.prompt_tokens,
                "completion_tokens": result.completion_tokens,
                "total_tokens": result.prompt_tokens + result.completion_tokens,
            },
        }

    return app


def serve(
    backend: ChatBackend,
    model_name: str,
    host: str = "127.0.0.1",
    port: int = 8000,
    log_level: str = "info",
) -> None:
    """Run the API with uvicorn until interrupted. Binds to loopback unless ``host`` says
    otherwise: the server has no authentication."""
    import uvicorn

    uvicorn.run(create_app(backend, model_name), host=host, port=port, log_level=log_level)
