"""The agent service: give a request to an agent in an environment, watch each step as it happens,
answer its questions and confirmations, stop it, and browse earlier runs.

    lamforge app --port 8765 --model office/lam4       # then open http://127.0.0.1:8765/

Routes (JSON unless said):
- ``POST /v1/tasks`` ``{"env", "request", "template", "model"}`` (a free request for a model agent) or
  ``{"env", "family", "seed", "agent": "expert"|"model", "model"}`` (a sampled task) -> ``{"id"}``;
- ``GET /v1/tasks/{id}/events``: server-sent events (``queued``, ``started``, ``plan``, ``step``,
  ``question``, ``confirm``, ``reply``, ``verdict``, ``error``), each with its sequence number as
  ``id:``; ``Last-Event-ID`` (or ``?after=N``) resumes; the stream ends after the verdict;
- ``POST /v1/tasks/{id}/reply`` ``{"answer"}``: approves or denies a confirmation, answers a question;
- ``POST /v1/tasks/{id}/stop``; ``GET /v1/tasks/{id}``: status and trajectory; ``GET /v1/tasks``;
- ``GET /v1/tasks/{id}/artifacts/{name}``: ``document`` (the saved file), ``document.html`` (its
  paragraphs, changed ones marked), ``screen.png`` (web environments), ``run.jsonl`` (the step log);
- ``GET /``: the page (``lamforge/serving/static/app.html``).

Runs execute one at a time on a worker thread (:mod:`lamforge.serving.agent_worker`), each in a fresh
environment with its own workspace, and are kept in SQLite (:mod:`lamforge.serving.runs`). The service
binds to loopback; any other address needs a bearer token (``--token``), which every ``/v1`` route then
requires.
"""

from __future__ import annotations

import asyncio
import json
from importlib import resources
from pathlib import Path
from typing import Any

from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, StreamingResponse
from pydantic import BaseModel, Field

from lamforge.core.errors import LamforgeError
# the worker that plays the runs lives apart (it never speaks HTTP); its names stay importable from here
from lamforge.serving.agent_worker import (  # noqa: F401  (REPLY_TIMEOUT_S: re-exported)
    REPLY_TIMEOUT_S, AgentService, TaskSpec)
from lamforge.serving.runs import TERMINAL, RunStore

MAX_BODY = 64 * 1024  # bytes: a request is a sentence, not a document


class Reply(BaseModel):
    answer: str = Field(min_length=1, max_length=500)


def document_html(folder: Path) -> str:
    """The saved .docx's paragraphs as HTML with their bold / italic / underline / strikethrough, those
    that differ from the starting document (in text or formatting) marked."""
    import html

    import docx

    def paragraphs(path: Path) -> list:
        return list(docx.Document(str(path)).paragraphs) if path.is_file() else []

    def render(p) -> str:
        out = []
        for run in p.runs:
            text = html.escape(run.text)
            for on, tag in ((run.bold, "b"), (run.italic, "i"), (run.underline, "u"), (run.font.strike, "s")):
                if on:
                    text = f"<{tag}>{text}</{tag}>"
            out.append(text)
        return "".join(out) or "&nbsp;"

    after, before = paragraphs(folder / "document.docx"), paragraphs(folder / "before.docx")
    rows = []
    for i, p in enumerate(after):
        changed = i >= len(before) or before[i]._p.xml != p._p.xml
        style = html.escape(p.style.name) if p.style is not None else ""
        rows.append(f'<p class="{"changed" if changed else ""}" title="{style}">{render(p)}</p>')
    if len(before) > len(after):
        rows.append(f'<p class="removed">({len(before) - len(after)} paragraph(s) fewer than at the start)</p>')
    return "<div class='doc'>" + "\n".join(rows) + "</div>"


def create_app(store: RunStore, artifacts: Path, *, default_model: str = "smollm2-135m", token: str | None = None,
               make_agent=None) -> FastAPI:
    from contextlib import asynccontextmanager

    service = AgentService(store, artifacts, default_model, make_agent)

    @asynccontextmanager
    async def lifespan(_: FastAPI):
        yield
        service.close()  # runs still going stop; the store marks them on the next start if they do not

    app = FastAPI(title="lamforge agent service", lifespan=lifespan)
    app.state.service = service

    @app.middleware("http")
    async def guard(request: Request, call_next):
        size = request.headers.get("content-length")
        if size is not None and (not size.isdigit() or int(size) > MAX_BODY):
            return JSONResponse({"detail": f"request body over {MAX_BODY} bytes"}, status_code=413)
        if token and request.url.path.startswith("/v1"):
            given = request.headers.get("authorization", "").removeprefix("Bearer ").strip() \
                or request.query_params.get("token", "")
            if given != token:
                return JSONResponse({"detail": "missing or wrong bearer token"}, status_code=401)
        return await call_next(request)

    @app.get("/", response_class=HTMLResponse)
    def page() -> str:
        return resources.files("lamforge.serving").joinpath("static", "app.html").read_text(encoding="utf-8")

    @app.get("/v1/envs")
    def envs() -> dict[str, Any]:
        from lamforge.envs import all_specs
        from lamforge.envs.tasks import families

        return {"envs": [{"name": s.short_name, "families": sorted(families(s.id))} for s in all_specs()],
                "default_model": default_model}

    @app.post("/v1/tasks")
    def submit(spec: TaskSpec) -> dict[str, str]:
        return {"id": service.submit(spec)}

    @app.get("/v1/tasks")
    def runs(limit: int = 50) -> dict[str, Any]:
        return {"runs": store.list(max(1, min(limit, 500)))}

    def _run_or_404(run_id: str) -> dict[str, Any]:
        found = store.get(run_id)
        if found is None:
            raise HTTPException(404, f"no run {run_id!r}")
        return found

    @app.get("/v1/tasks/{run_id}")
    def run(run_id: str) -> dict[str, Any]:
        return _run_or_404(run_id)

    @app.post("/v1/tasks/{run_id}/reply")
    def reply(run_id: str, body: Reply) -> dict[str, str]:
        _run_or_404(run_id)
        service.reply(run_id, body.answer)
        return {"status": "sent"}

    @app.post("/v1/tasks/{run_id}/stop")
    def stop(run_id: str) -> dict[str, str]:
        if _run_or_404(run_id)["status"] in TERMINAL:
            raise HTTPException(409, f"run {run_id} has already ended")
        service.stop(run_id)
        return {"status": "stopping"}

    @app.get("/v1/tasks/{run_id}/events")
    async def events(run_id: str, request: Request, after: int = 0) -> StreamingResponse:
        _run_or_404(run_id)
        last = request.headers.get("last-event-id", "")
        start = int(last) if last.isdigit() else max(after, 0)

        async def stream():
            seq = start
            while True:
                new = store.events(run_id, seq)
                for e in new:
                    seq = e["seq"]
                    yield f"id: {seq}\nevent: {e['kind']}\ndata: {json.dumps(e['data'])}\n\n"
                status = store.get(run_id)["status"]
                if status in TERMINAL and not store.events(run_id, seq):
                    return
                if await request.is_disconnected():
                    return
                if not new:
                    await asyncio.sleep(0.2)

        return StreamingResponse(stream(), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})

    @app.get("/v1/tasks/{run_id}/artifacts/{name}", response_model=None)
    def artifact(run_id: str, name: str) -> FileResponse | HTMLResponse:
        _run_or_404(run_id)
        folder = (Path(artifacts) / run_id).resolve()
        if name == "document.html":
            return HTMLResponse(document_html(folder))
        wanted = {"document": None, "screen.png": "screen.png", "run.jsonl": "run.jsonl"}
        if name not in wanted:
            raise HTTPException(404, f"no artifact {name!r}: document, document.html, screen.png or run.jsonl")
        path = next(iter(sorted(folder.glob("document.*"))), None) if name == "document" else folder / wanted[name]
        if path is None or not path.is_file():
            raise HTTPException(404, f"run {run_id} has no {name}")
        return FileResponse(path)

    return app


def serve_app(*, host: str = "127.0.0.1", port: int = 8765, model: str = "smollm2-135m", db: Path | None = None,
              token: str | None = None, log_level: str = "warning") -> None:
    import uvicorn

    from lamforge.config import lamforge_home

    if host not in ("127.0.0.1", "localhost", "::1") and not token:
        raise LamforgeError(f"binding to {host} exposes the agent (it edits files, places orders): give --token, "
                            "which every request must then carry as 'Authorization: Bearer TOKEN'")
    home = lamforge_home() / "app"
    store = RunStore(db or home / "runs.sqlite")
    if store.interrupted:
        print(f"{len(store.interrupted)} run(s) were cut off when the service last stopped: marked interrupted")
    print(f"lamforge app on http://{host}:{port}/ (model {model}; runs kept in {store.path})", flush=True)
    uvicorn.run(create_app(store, home / "artifacts", default_model=model, token=token), host=host, port=port,
                log_level=log_level)
