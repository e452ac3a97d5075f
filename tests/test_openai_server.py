"""The OpenAI-compatible server and client, over real loopback HTTP.

lamforge's server runs for real (uvicorn in a thread) serving a tiny random Llama, and
OpenAIBackend talks to it. Failure modes (server down, too slow, garbage, 5xx) are played by
small ``http.server`` servers started here.
"""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest

from lamforge.core.errors import BackendError
from lamforge.models.local import TransformersBackend
from lamforge.models.openai_compat import OpenAIBackend
from lamforge.serving.openai_server import create_app

MESSAGES = [{"role": "user", "content": "Open the Format menu."}]


# --- a tiny model served for real -----------------------------------------------------------------



def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def server_url(tiny_backend: TransformersBackend) -> Iterator[str]:
    import uvicorn

    port = _free_port()
    app = create_app(tiny_backend, "tiny")
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 20
    while True:
        try:
            if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                break
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("lamforge server did not come up")
        time.sleep(0.05)
    yield f"{base}/v1"
    server.should_exit = True
    thread.join(timeout=10)


def test_health_and_models(server_url: str) -> None:
    assert httpx.get(server_url.removesuffix("/v1") + "/health").json()["status"] == "ok"
    with OpenAIBackend(model="tiny", base_url=server_url) as client:
        assert client.list_models() == ["tiny"]


def test_client_chats_with_the_server(server_url: str, tiny_backend: TransformersBackend) -> None:
    with OpenAIBackend(model="tiny", base_url=server_url, timeout=30) as client:
        result = client.chat(MESSAGES, max_tokens=5)
    assert isinstance(result.text, str)
    assert result.prompt_tokens > 5 and 1 <= result.completion_tokens <= 5
    # the same greedy answer as the model in-process
    assert result.text == tiny_backend.chat(MESSAGES, max_tokens=5).text


def test_client_picks_the_served_model_when_none_is_named(server_url: str) -> None:
    with OpenAIBackend(base_url=server_url) as client:
        client.chat(MESSAGES, max_tokens=2)
        assert client.model == "tiny"


def test_response_shape(server_url: str) -> None:
    body = {"model": "tiny", "messages": MESSAGES, "max_tokens": 3, "stop": "\n"}
    reply = httpx.post(f"{server_url}/chat/completions", json=body, timeout=30)
    assert reply.status_code == 200, reply.text
    data = reply.json()
    assert data["object"] == "chat.completion" and data["model"] == "tiny"
    choice = data["choices"][0]
    assert choice["message"]["role"] == "assistant"
    assert isinstance(choice["message"]["content"], str)
    assert choice["finish_reason"] in ("stop", "length")
    usage = data["usage"]
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]


TOOLS = [{"type": "function", "function": {
    "name": "set_font_size", "description": "Set the font size of the selected text.",
    "parameters": {"type": "object", "properties": {"size": {"type": "integer", "description": "points"}},
                   "required": ["size"]}}}]


def test_tools_come_back_as_tool_calls_under_the_offered_functions_grammar(server_url: str) -> None:
    """Even a random tiny model calls only an offered function with well-typed arguments: it decodes
    under that grammar. "required" leaves it no answer in words."""
    body = {"model": "tiny", "messages": [{"role": "user", "content": "Make it 14 points."}], "max_tokens": 24,
            "tools": TOOLS, "tool_choice": "required"}
    data = httpx.post(f"{server_url}/chat/completions", json=body, timeout=60).json()
    choice = data["choices"][0]
    assert choice["finish_reason"] == "tool_calls" and choice["message"]["content"] is None
    call = choice["message"]["tool_calls"][0]
    assert call["type"] == "function" and call["id"].startswith("call_")
    assert call["function"]["name"] == "set_font_size"
    assert isinstance(json.loads(call["function"]["arguments"])["size"], int)
    words = httpx.post(f"{server_url}/chat/completions", json={**body, "tool_choice": "none"}, timeout=60).json()
    assert "tool_calls" not in words["choices"][0]["message"]


def test_streaming_sends_chunks_that_add_up_to_the_reply(server_url: str) -> None:
    body = {"model": "tiny", "messages": MESSAGES, "max_tokens": 6}
    whole = httpx.post(f"{server_url}/chat/completions", json=body, timeout=30).json()["choices"][0]
    with httpx.stream("POST", f"{server_url}/chat/completions", json={**body, "stream": True}, timeout=30) as r:
        assert r.headers["content-type"].startswith("text/event-stream")
        events = [line[6:] for line in r.iter_lines() if line.startswith("data: ")]
    assert events[-1] == "[DONE]"
    chunks = [json.loads(e) for e in events[:-1]]
    assert all(c["object"] == "chat.completion.chunk" for c in chunks)
    assert "".join(c["choices"][0]["delta"].get("content", "") for c in chunks) == whole["message"]["content"]
    assert chunks[-1]["choices"][0]["finish_reason"] == whole["finish_reason"]


def test_the_official_openai_client_round_trips_a_tool_call(server_url: str) -> None:
    openai = pytest.importorskip("openai")
    client = openai.OpenAI(base_url=server_url, api_key="unused", timeout=60)
    ask = [{"role": "user", "content": "Make it 14 points."}]
    first = client.chat.completions.create(model="tiny", messages=ask, tools=TOOLS, tool_choice="required",
                                           max_tokens=24)
    call = first.choices[0].message.tool_calls[0]
    assert call.function.name == "set_font_size" and "size" in json.loads(call.function.arguments)
    follow = ask + [first.choices[0].message.model_dump(exclude_none=True),
                    {"role": "tool", "tool_call_id": call.id, "content": "done"}]
    second = client.chat.completions.create(model="tiny", messages=follow, tools=TOOLS, max_tokens=8)
    assert second.choices[0].finish_reason in ("stop", "length", "tool_calls")
    streamed = client.chat.completions.create(model="tiny", messages=ask, max_tokens=6, stream=True)
    pieces = [c.choices[0].delta.content or "" for c in streamed]
    assert "".join(pieces) == client.chat.completions.create(model="tiny", messages=ask, max_tokens=6) \
        .choices[0].message.content


@pytest.mark.parametrize(
    ("body", "status", "words"),
    [
        ({"messages": []}, 422, "messages"),
        ({"messages": "hello"}, 422, "messages"),
        ({"messages": MESSAGES, "max_tokens": 0}, 422, "max_tokens"),
        ({"messages": MESSAGES, "temperature": "hot"}, 422, "temperature"),
        ({"messages": MESSAGES, "tools": [{"type": "function", "function": {"name": "click"}}],
          "tool_choice": {"type": "function", "function": {"name": "nope"}}}, 400, "not among the tools"),
        ({"messages": MESSAGES, "tools": [{"type": "function", "function": {"name": "click"}}],
          "tool_choice": "sometimes"}, 400, "tool_choice must be"),
        ("{not json", 422, "JSON"),
    ],
)
def test_bad_requests(server_url: str, body: Any, status: int, words: str) -> None:
    url = f"{server_url}/chat/completions"
    if isinstance(body, str):
        reply = httpx.post(url, content=body, headers={"content-type": "application/json"})
    else:
        reply = httpx.post(url, json=body)
    assert reply.status_code == status
    assert words.lower() in reply.json()["error"]["message"].lower()


# --- failure modes of the client ------------------------------------------------------------------


Behaviour = Callable[[BaseHTTPRequestHandler], tuple[int, str]]


@pytest.fixture
def fake_server() -> Iterator[Callable[[Behaviour], str]]:
    """Starts a loopback HTTP server answering every request with ``behaviour(handler)``."""
    servers: list[ThreadingHTTPServer] = []

    def start(behaviour: Behaviour) -> str:
        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                self.body = self.rfile.read(length)
                status, text = behaviour(self)
                data = text.encode()
                try:
                    self.send_response(status)
                    self.send_header("content-type", "application/json")
                    self.send_header("content-length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except OSError:
                    pass  # the client gave up waiting

            do_GET = do_POST = _answer

            def log_message(self, *args: Any) -> None:
                pass

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}/v1"

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def _ok(text: str | None = "hi", **message: Any) -> str:
    return json.dumps({
        "choices": [{"message": {"role": "assistant", "content": text, **message}}],
        "usage": {"prompt_tokens": 3, "completion_tokens": 1},
    })


def test_server_down_is_reported_with_the_url() -> None:
    url = f"http://127.0.0.1:{_free_port()}/v1"  # nothing listens there any more
    client = OpenAIBackend(model="m", base_url=url, retries=2, backoff=0.01, timeout=2)
    start = time.monotonic()
    with pytest.raises(BackendError) as info:
        client.chat(MESSAGES)
    assert time.monotonic() - start < 3
    message = str(info.value)
    assert url in message and "is the server running" in message and "3 tries" in message


def test_slow_server_times_out(fake_server: Callable[[Behaviour], str]) -> None:
    def slow(handler: BaseHTTPRequestHandler) -> tuple[int, str]:
        time.sleep(1.5)
        return 200, _ok()

    url = fake_server(slow)
    client = OpenAIBackend(model="m", base_url=url, retries=1, backoff=0.01, timeout=0.3)
    start = time.monotonic()
    with pytest.raises(BackendError, match=r"timed out after 0.3 s"):
        client.chat(MESSAGES)
    assert time.monotonic() - start < 1.5


@pytest.mark.parametrize(
    ("answer", "words"),
    [
        ("<html>hello</html>", "not JSON"),
        (json.dumps({"object": "list"}), "without a usable choice"),
        (json.dumps({"choices": []}), "without a usable choice"),
    ],
)
def test_garbage_is_a_backend_error(
    fake_server: Callable[[Behaviour], str], answer: str, words: str
) -> None:
    client = OpenAIBackend(model="m", base_url=fake_server(lambda h: (200, answer)), retries=0)
    with pytest.raises(BackendError, match=words):
        client.chat(MESSAGES)


def test_5xx_is_retried_then_reported(fake_server: Callable[[Behaviour], str]) -> None:
    seen: list[str] = []

    def failing(handler: BaseHTTPRequestHandler) -> tuple[int, str]:
        seen.append(handler.path)
        return 503, '{"error": "model is loading"}'

    client = OpenAIBackend(model="m", base_url=fake_server(failing), retries=2, backoff=0.01)
    with pytest.raises(BackendError, match=r"HTTP 503 .*model is loading"):
        client.chat(MESSAGES)
    assert seen == ["/v1/chat/completions"] * 3


def test_transient_429_then_success(fake_server: Callable[[Behaviour], str]) -> None:
    answers = iter([(429, '{"error": "slow down"}'), (200, _ok("done"))])
    client = OpenAIBackend(model="m", base_url=fake_server(lambda h: next(answers)), backoff=0.01)
    assert client.chat(MESSAGES).text == "done"


def test_4xx_is_not_retried(fake_server: Callable[[Behaviour], str]) -> None:
    seen: list[int] = []

    def bad(handler: BaseHTTPRequestHandler) -> tuple[int, str]:
        seen.append(1)
        return 400, '{"error": {"message": "unknown model m"}}'

    client = OpenAIBackend(model="m", base_url=fake_server(bad), retries=2, backoff=0.01)
    with pytest.raises(BackendError, match="HTTP 400.*unknown model m"):
        client.chat(MESSAGES)
    assert len(seen) == 1


def test_tool_calls_env_and_request_body(
    fake_server: Callable[[Behaviour], str], monkeypatch: pytest.MonkeyPatch
) -> None:
    requests: list[tuple[str | None, dict]] = []
    call = {"id": "c1", "type": "function",
            "function": {"name": "click", "arguments": json.dumps({"control": "Bold"})}}

    def answer(handler: BaseHTTPRequestHandler) -> tuple[int, str]:
        requests.append((handler.headers.get("authorization"), json.loads(handler.body)))
        return 200, _ok(None, tool_calls=[call])

    monkeypatch.setenv("LAMFORGE_BASE_URL", fake_server(answer))
    monkeypatch.setenv("LAMFORGE_API_KEY", "sk-test")
    tools = [{"type": "function", "function": {"name": "click", "parameters": {"type": "object"}}}]
    result = OpenAIBackend(model="m").chat(MESSAGES, max_tokens=7, tools=tools, stop=["\n"])
    assert json.loads(result.text) == {"name": "click", "arguments": {"control": "Bold"}}
    assert (result.prompt_tokens, result.completion_tokens) == (3, 1)
    auth, body = requests[0]
    assert auth == "Bearer sk-test"
    assert body["tools"] == tools and body["max_tokens"] == 7 and body["stop"] == ["\n"]
    assert body["model"] == "m" and body["messages"] == MESSAGES


def test_a_smolagents_tool_calling_agent_runs_on_the_server(server_url: str) -> None:
    """The README's example: smolagents' ToolCallingAgent drives the forged model through this server.
    The tiny random model's choices are arbitrary, but every step's tool call arrives valid (decoded
    under the offered tools' grammar), so smolagents never fails to parse one."""
    smolagents = pytest.importorskip("smolagents")
    called: list[int] = []

    @smolagents.tool
    def get_order(order_id: int) -> str:
        """Look up an order by its number.

        Args:
            order_id: The order number, e.g. 4417.
        """
        called.append(order_id)
        return f"order {order_id}: delivered"

    model = smolagents.OpenAIServerModel(model_id="tiny", api_base=server_url, api_key="local", max_tokens=48)
    agent = smolagents.ToolCallingAgent(tools=[get_order], model=model, max_steps=2, verbosity_level=0)
    agent.run("Look up order 4417.")
    # the agent's own steps (after them, smolagents asks once more, without tools, for a final answer)
    steps = [s for s in agent.memory.steps if isinstance(s, smolagents.memory.ActionStep) and s.step_number <= 2]
    assert steps
    for step in steps:
        assert step.error is None, step.error  # a call every step, parsed by smolagents itself
        assert step.tool_calls and {c.name for c in step.tool_calls} <= {"get_order", "final_answer"}
    assert all(isinstance(x, int) for x in called)
