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

Runs execute one at a time on a worker thread, each in a fresh environment with its own workspace,
and are kept in SQLite (:mod:`lamforge.serving.runs`). The service binds to loopback; any other
address needs a bearer token (``--token``), which every ``/v1`` route then requires.
"""

from __future__ import annotations

import asyncio
import json
import queue
import shutil
import threading
from importlib import resources
from pathlib import Path
from typing import Any, Literal

from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, StreamingResponse
from pydantic import BaseModel, Field, model_validator

from lamforge.core.errors import LamforgeError
from lamforge.serving.runs import TERMINAL, RunStore

MAX_BODY = 64 * 1024  # bytes: a request is a sentence, not a document
REPLY_TIMEOUT_S = 600.0  # a confirmation nobody answers is a "no"


class TaskSpec(BaseModel):
    env: str = Field("office", min_length=1, max_length=40)
    request: str | None = Field(None, min_length=1, max_length=2000)
    template: str | None = Field(None, max_length=80)
    family: str | None = Field(None, max_length=80)
    seed: int = Field(0, ge=0, le=10**9)
    agent: Literal["expert", "model"] | None = None
    model: str | None = Field(None, max_length=200)
    max_steps: int = Field(10, ge=1, le=40)

    @model_validator(mode="after")
    def _one_task(self) -> TaskSpec:
        if (self.request is None) == (self.family is None):
            raise ValueError("give either a free-text 'request' or a task 'family' (with 'seed')")
        if self.agent is None:
            self.agent = "model" if self.request is not None else "expert"
        if self.agent == "expert" and self.request is not None:
            raise ValueError("the expert plays a family's reference solution: a free request needs agent 'model'")
        return self


class Reply(BaseModel):
    answer: str = Field(min_length=1, max_length=500)


class _Stopped(Exception):
    pass


class _Live:
    """What the worker needs to talk to a running episode: its stop flag and its reply box."""

    def __init__(self) -> None:
        self.stop = threading.Event()
        self.replies: queue.Queue[str] = queue.Queue()
        self.waiting: str | None = None  # "question" or "confirm" while the agent waits for a person


class AgentService:
    def __init__(self, store: RunStore, artifacts: Path, default_model: str = "smollm2-135m",
                 make_agent=None) -> None:
        from lamforge.agents.factory import make_agent as factory

        self.store, self.artifacts, self.default_model = store, Path(artifacts), default_model
        self.make_agent = make_agent or factory
        self.live: dict[str, _Live] = {}
        self.queue: queue.Queue[str | None] = queue.Queue()
        self.worker = threading.Thread(target=self._work, name="lamforge-agent-worker", daemon=True)
        self.worker.start()

    # --- requests ------------------------------------------------------------------------------
    def submit(self, spec: TaskSpec) -> str:
        from lamforge.envs import spec as env_spec

        try:
            env_spec(spec.env)
        except LamforgeError as e:
            raise HTTPException(400, str(e)) from None
        if spec.family is not None:
            from lamforge.envs.tasks import families

            known = families(spec.env)
            if spec.family not in known:
                raise HTTPException(400, f"{spec.env} has no task family {spec.family!r}; known: {', '.join(sorted(known))}")
        if spec.agent == "model":
            self._check_model(spec.model or self.default_model)
        run_id = self.store.create(spec.model_dump())
        self.live[run_id] = _Live()
        self.queue.put(run_id)
        return run_id

    def _check_model(self, name: str) -> None:
        from lamforge.models import BASE_MODELS
        from lamforge.models.registry import resolve

        if name not in BASE_MODELS and name != self.default_model and resolve(name) is None:
            raise HTTPException(400, f"unknown model {name!r}: a base model ({', '.join(BASE_MODELS)}) or a forged "
                                     "one (`lamforge models` lists them)")

    def reply(self, run_id: str, answer: str) -> None:
        live = self.live.get(run_id)
        if live is None or live.waiting is None:
            raise HTTPException(409, f"run {run_id} is not waiting for an answer")
        live.replies.put(answer)

    def stop(self, run_id: str) -> None:
        live = self.live.get(run_id)
        if live is None:
            raise HTTPException(409, f"run {run_id} is not running")
        live.stop.set()
        live.replies.put("no")  # a run waiting for a confirmation stops at once

    def close(self) -> None:
        for live in self.live.values():
            live.stop.set()
            live.replies.put("no")
        self.queue.put(None)

    # --- the worker ----------------------------------------------------------------------------
    def _work(self) -> None:
        while (run_id := self.queue.get()) is not None:
            live = self.live.get(run_id)
            if live is None or live.stop.is_set():
                self.store.add_event(run_id, "verdict", {"status": "stopped", "reason": "stopped before it started"})
                self.store.finish(run_id, "stopped")
                self.live.pop(run_id, None)
                continue
            try:
                self._run(run_id, live)
            except Exception as e:  # noqa: BLE001  (one broken run must not stop the service)
                self.store.add_event(run_id, "error", {"message": f"{type(e).__name__}: {e}"})
                self.store.add_event(run_id, "verdict", {"status": "error", "reason": str(e)})
                self.store.finish(run_id, "error", error=f"{type(e).__name__}: {e}")
            finally:
                self.live.pop(run_id, None)

    def _run(self, run_id: str, live: _Live) -> None:
        from lamforge.agents.runner import run_episode
        from lamforge.envs import make
        from lamforge.envs.tasks import task_for

        spec = TaskSpec.model_validate(self.store.get(run_id)["spec"])
        folder = self.artifacts / run_id
        folder.mkdir(parents=True, exist_ok=True)
        self.store.set_status(run_id, "running")
        env = make(spec.env, max_steps=spec.max_steps)
        try:
            base = env.unwrapped
            task = task_for(spec.env, family=spec.family, seed=spec.seed, request=spec.request,
                            template=spec.template)
            model = spec.model or self.default_model
            self.store.add_event(run_id, "started", {"task": task.model_dump(mode="json"),
                                                    "agent": spec.agent if spec.agent == "expert" else model})
            agent = self.make_agent("reference" if spec.agent == "expert" else model, env, planning="start")
            shown_plan: list[str] = []

            def on_step(step) -> None:
                nonlocal shown_plan
                if step.plan and step.plan != shown_plan:
                    shown_plan = list(step.plan)
                    self.store.add_event(run_id, "plan", {"plan": shown_plan})
                self.store.add_event(run_id, "step", _step_event(step))
                if live.stop.is_set():
                    raise _Stopped()

            def ask(question: str) -> str:
                kind = "confirm" if question.rstrip().endswith("[y/N]") else "question"
                live.waiting = kind
                self.store.add_event(run_id, kind, {"text": question})
                try:
                    answer = live.replies.get(timeout=REPLY_TIMEOUT_S)
                except queue.Empty:
                    answer = "no"
                live.waiting = None
                self.store.add_event(run_id, "reply", {"answer": answer})
                if live.stop.is_set():
                    raise _Stopped()
                return answer

            from lamforge.core.safety import runtime_policy

            # a model's irreversible actions wait for a yes on the page (the expert plays a known solution)
            policy = runtime_policy(env, ask) if spec.agent == "model" else None
            try:
                traj = run_episode(env, agent, task, log=folder / "run.jsonl", ask=ask, on_step=on_step, policy=policy)
            except _Stopped:
                self._keep_artifacts(base, folder)
                self.store.add_event(run_id, "verdict", {"status": "stopped", "reason": "stopped by the user"})
                self.store.finish(run_id, "stopped")
                return
            self._keep_artifacts(base, folder)
            status = "succeeded" if traj.success else "failed"
            self.store.add_event(run_id, "verdict", {
                "status": status, "success": traj.success, "reason": traj.outcome.reason, "steps": len(traj.steps),
                "seconds": round(traj.seconds, 2), "checked": task.family != "free_request",
                "artifacts": sorted(p.name for p in folder.iterdir())})
            self.store.finish(run_id, status, traj.model_dump(mode="json"))
        finally:
            env.close()

    def _keep_artifacts(self, base: Any, folder: Path) -> None:
        """The saved document (and what it started from) or a screenshot, before the env's workspace goes."""
        from lamforge.core.search import judged_paths

        try:
            state = base.judge()
        except Exception:  # noqa: BLE001  (an env that cannot judge has no artifacts to keep)
            state = None
        files = [p for p in judged_paths(state) if p.is_file()] if state is not None else []
        if files:
            shutil.copyfile(files[0], folder / f"document{files[0].suffix}")
            template = getattr(state, "template_path", None)
            if isinstance(template, Path) and template.is_file():
                shutil.copyfile(template, folder / f"before{template.suffix}")
        if hasattr(base, "screenshot"):
            try:
                base.screenshot(str(folder / "screen.png"))
            except Exception:  # noqa: BLE001  (a closed page: no screenshot, the run still counts)
                pass


def _step_event(step) -> dict[str, Any]:
    a = step.action
    return {"index": step.index, "action": a.call_text() if a.function else None, "status": a.status.value,
            "thought": a.thought or None, "error": step.error, "state": step.observation.state,
            "latency_s": round(step.latency_s or 0.0, 3), "user_reply": step.user_reply,
            "screen": [{"label": c.label, "name": c.name, "type": c.type, "value": c.value}
                       for c in step.observation.controls[:80]]}


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
