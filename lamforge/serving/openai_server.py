"""Serve any lamforge chat backend as an OpenAI-compatible HTTP API.

    backend = load_backend("runs/sft/final")
    serve(backend, "my-lam", port=8000)      # blocks; loopback only unless host is changed
    # or: app = create_app(backend, "my-lam") and run it with any ASGI server

Endpoints: ``GET /v1/models``, ``POST /v1/chat/completions`` (messages, max_tokens, temperature,
stop, ``tools`` with ``tool_choice``, ``stream``) and ``GET /health``. Any OpenAI client, including
the official ``openai`` package and ``OpenAIBackend(base_url="http://127.0.0.1:8000/v1")``, can talk to it.

With ``tools``, a local model decodes under the grammar of the offered functions and the answer
comes back as ``tool_calls`` (:mod:`lamforge.serving.tool_calls`). With ``stream: true`` the reply is
sent as server-sent chunks in OpenAI's format, ending with ``data: [DONE]``; the chunks follow the
decoded reply (the model's decoding is not token-streamed yet).
"""

from __future__ import annotations

import threading
import time
import uuid
from typing import Any

from fastapi import FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, StreamingResponse
from jinja2 import TemplateError
from pydantic import BaseModel, ConfigDict, Field

from lamforge.models.base import ChatBackend
from lamforge.serving.tool_calls import ToolChoiceError, answer_with_tools, plain_turns


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
    tool_choice: str | dict[str, Any] | None = None
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
        if request.n != 1:
            return _error(400, "Only n=1 is supported.")
        max_tokens = request.max_completion_tokens or request.max_tokens or 256
        stop = [request.stop] if isinstance(request.stop, str) else request.stop
        messages = plain_turns([_message_dict(m) for m in request.messages])

        use_tools = bool(request.tools) and request.tool_choice != "none"

        def run() -> tuple[dict[str, Any], str, int, int]:
            with lock:
                if use_tools:
                    called = answer_with_tools(backend, messages, request.tools, request.tool_choice, max_tokens)
                    if called["message"] is not None:
                        return called["message"], "tool_calls", called["prompt_tokens"], called["completion_tokens"]
                    # no call fits ("auto"): answer in words, without the function list
                result = backend.chat(messages, max_tokens=max_tokens, temperature=request.temperature, stop=stop)
                finish = "length" if result.completion_tokens >= max_tokens else "stop"
                return ({"role": "assistant", "content": result.text}, finish, result.prompt_tokens,
                        result.completion_tokens)

        try:
            message, finish, prompt_tokens, completion_tokens = await run_in_threadpool(run)
        except ToolChoiceError as exc:
            return _error(400, str(exc))
        except (ValueError, TypeError, TemplateError) as exc:
            # e.g. a chat template that rejects the message roles it was given
            return _error(400, f"The model could not take these messages: {exc}")
        except Exception as exc:  # noqa: BLE001 - the client gets the reason, not a bare 500
            return _error(500, f"The model failed: {type(exc).__name__}: {exc}", "server_error")
        reply_id, created_at = f"chatcmpl-{uuid.uuid4().hex[:24]}", int(time.time())
        if request.stream:
            return StreamingResponse(_chunks(reply_id, created_at, model_name, message, finish),
                                     media_type="text/event-stream")
        return {
            "id": reply_id,
            "object": "chat.completion",
            "created": created_at,
            "model": model_name,
            "choices": [{"index": 0, "message": message, "finish_reason": finish}],
            "usage": {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": completion_tokens,
                "total_tokens": prompt_tokens + completion_tokens,
            },
        }

    return app


def _chunks(reply_id: str, created: int, model: str, message: dict[str, Any], finish: str):
    """The reply as OpenAI's ``chat.completion.chunk`` events: the role, the content in pieces (or each
    tool call), the finish reason, then ``[DONE]``."""
    import json

    def chunk(delta: dict[str, Any], reason: str | None = None) -> str:
        body = {"id": reply_id, "object": "chat.completion.chunk", "created": created, "model": model,
                "choices": [{"index": 0, "delta": delta, "finish_reason": reason}]}
        return f"data: {json.dumps(body)}\n\n"

    yield chunk({"role": "assistant", "content": ""})
    for i, call in enumerate(message.get("tool_calls") or []):
        yield chunk({"tool_calls": [{"index": i, **call}]})
    text = message.get("content") or ""
    for start in range(0, len(text), 24):
        yield chunk({"content": text[start:start + 24]})
    yield chunk({}, finish)
    yield "data: [DONE]\n\n"


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
