"""The agent service and its page (issue #16): runs on the real Office environment, events streamed as
they happen, confirmations answered, runs kept across a restart, bad input refused with a 4xx, and the
page driven in real headless Chromium."""

from __future__ import annotations

import json
import socket
import threading
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from lamforge.agents.base import Decision
from lamforge.agents.expert import ReferenceExpert
from lamforge.core.errors import LamforgeError
from lamforge.core.schemas import Status
from lamforge.serving.agent_service import create_app, serve_app
from lamforge.serving.runs import RunStore


class ConfirmingExpert(ReferenceExpert):
    """The reference solution, but it asks before its first action (as a cautious agent would before
    anything irreversible): a test double for the service's confirmation path."""

    def act(self, observation, history):
        decision = super().act(observation, history)
        if not history and decision.action.status == Status.CONTINUE:
            action = decision.action.model_copy(update={"status": Status.CONFIRM, "thought": "Shall I start?"})
            return Decision(action, raw_output=decision.raw_output)
        return decision


def _factory(kind):
    def make(spec, env, **_):
        return kind()
    return make


def _client(tmp_path, make_agent=None, **kw) -> TestClient:
    return TestClient(create_app(RunStore(tmp_path / "runs.sqlite"), tmp_path / "artifacts", make_agent=make_agent, **kw))


def _wait(client, run_id, until=("succeeded", "failed", "stopped", "error"), timeout=60.0) -> dict:
    deadline = time.time() + timeout
    while time.time() < deadline:
        run = client.get(f"/v1/tasks/{run_id}").json()
        if run["status"] in until:
            return run
        time.sleep(0.1)
    raise AssertionError(f"run {run_id} still {run['status']} after {timeout} s")


def _events(client, run_id) -> list[tuple[str, dict]]:
    """The event stream as a client reads it (it ends after the verdict)."""
    out, kind = [], None
    with client.stream("GET", f"/v1/tasks/{run_id}/events") as r:
        for line in r.iter_lines():
            if line.startswith("event: "):
                kind = line[7:]
            elif line.startswith("data: "):
                out.append((kind, json.loads(line[6:])))
    return out


def test_an_expert_run_streams_its_steps_and_keeps_the_document(tmp_path):
    with _client(tmp_path) as client:
        run_id = client.post("/v1/tasks", json={"env": "office", "family": "bold_text", "seed": 3}).json()["id"]
        run = _wait(client, run_id)
        assert run["status"] == "succeeded" and run["trajectory"]["outcome"]["success"]
        events = _events(client, run_id)
        kinds = [k for k, _ in events]
        assert kinds[0] == "queued" and kinds[1] == "started" and kinds[-1] == "verdict"
        steps = [d for k, d in events if k == "step"]
        assert len(steps) == len(run["trajectory"]["steps"]) >= 1 and steps[-1]["status"] == "FINISH"
        assert any(c["type"] == "Paragraph" for c in steps[0]["screen"])  # the screen the agent saw
        doc = client.get(f"/v1/tasks/{run_id}/artifacts/document.html").text
        assert 'class="changed"' in doc and "<b>" in doc  # the paragraph made bold is marked, and shown bold
        assert client.get(f"/v1/tasks/{run_id}/artifacts/document").content[:2] == b"PK"  # a real .docx
        assert client.get(f"/v1/tasks/{run_id}/artifacts/run.jsonl").status_code == 200
        assert run_id in [r["id"] for r in client.get("/v1/tasks").json()["runs"]]


def _answer_every_confirmation(client, run_id, answer: str) -> dict:
    """Answer each confirmation as it comes (the agent's own, then the runtime's before an irreversible
    action) until the run ends."""
    answered, deadline = 0, time.time() + 60
    while time.time() < deadline:
        run = client.get(f"/v1/tasks/{run_id}").json()
        if run["status"] in ("succeeded", "failed", "stopped", "error"):
            return run
        asked = [e for e in client.app.state.service.store.events(run_id) if e["kind"] == "confirm"]
        if len(asked) > answered and client.post(f"/v1/tasks/{run_id}/reply", json={"answer": answer}).status_code == 200:
            answered += 1
        time.sleep(0.05)
    raise AssertionError(f"run {run_id} did not end")


def test_a_confirmation_waits_for_the_person_and_a_denial_is_not_run(tmp_path):
    with _client(tmp_path, make_agent=_factory(ConfirmingExpert)) as client:
        spec = {"env": "office", "family": "delete_paragraph", "seed": 1, "agent": "model"}
        approved = client.post("/v1/tasks", json=spec).json()["id"]
        run = _answer_every_confirmation(client, approved, "yes")
        assert run["status"] == "succeeded"
        asked = [e["data"]["text"] for e in client.app.state.service.store.events(approved) if e["kind"] == "confirm"]
        # the agent asked before its first action, and the runtime before the delete, which cannot be undone
        assert len(asked) == 2 and "deletes the selection" in asked[1]
        denied = client.post("/v1/tasks", json=spec).json()["id"]
        run = _answer_every_confirmation(client, denied, "no")
        first = run["trajectory"]["steps"][0]
        assert first["action"]["function"] is None and first["user_reply"] == "no"  # nothing ran
        assert run["status"] == "failed"


def test_stop_ends_a_run_waiting_for_an_answer(tmp_path):
    with _client(tmp_path, make_agent=_factory(ConfirmingExpert)) as client:
        run_id = client.post("/v1/tasks", json={"env": "office", "family": "bold_text", "agent": "model"}).json()["id"]
        deadline = time.time() + 30
        while not any(e["kind"] == "confirm" for e in client.app.state.service.store.events(run_id)):
            assert time.time() < deadline
            time.sleep(0.05)
        assert client.post(f"/v1/tasks/{run_id}/stop").status_code == 200
        assert _wait(client, run_id)["status"] == "stopped"
        assert client.post(f"/v1/tasks/{run_id}/stop").status_code == 409  # already ended


def test_a_run_cut_off_by_a_restart_is_marked_interrupted_not_lost(tmp_path):
    store = RunStore(tmp_path / "runs.sqlite")
    run_id = store.create({"env": "office", "family": "bold_text"})
    store.set_status(run_id, "running")
    store.add_event(run_id, "step", {"index": 0})
    store.close()
    again = RunStore(tmp_path / "runs.sqlite")  # the service starting again
    assert again.interrupted == [run_id]
    assert again.get(run_id)["status"] == "interrupted"
    assert [e["kind"] for e in again.events(run_id)] == ["queued", "step", "verdict"]


@pytest.mark.parametrize("body, status, message", [
    ({"env": "office"}, 422, "either a free-text 'request' or a task 'family'"),
    ({"env": "office", "request": "x", "family": "bold_text"}, 422, "either"),
    ({"env": "nowhere", "family": "bold_text"}, 400, "no environment"),
    ({"env": "office", "family": "no_such_family"}, 400, "no task family"),
    ({"env": "office", "request": "Make it bold", "model": "../../etc"}, 400, "unknown model"),
    ({"env": "office", "request": "Make it bold", "agent": "expert"}, 422, "free request needs agent 'model'"),
    ({"env": "office", "request": "x" * 3000}, 422, "at most 2000"),
])
def test_bad_requests_get_a_4xx_with_a_message(tmp_path, body, status, message):
    with _client(tmp_path) as client:
        r = client.post("/v1/tasks", json=body)
        assert r.status_code == status and message in r.text, r.text


def test_unknown_runs_oversized_bodies_and_untimely_replies(tmp_path):
    with _client(tmp_path) as client:
        assert client.get("/v1/tasks/nope").status_code == 404
        assert client.get("/v1/tasks/nope/events").status_code == 404
        r = client.post("/v1/tasks", content=b"{" + b" " * 70_000 + b"}", headers={"content-type": "application/json"})
        assert r.status_code == 413
        run_id = client.post("/v1/tasks", json={"env": "office", "family": "bold_text"}).json()["id"]
        _wait(client, run_id)
        assert client.post(f"/v1/tasks/{run_id}/reply", json={"answer": "yes"}).status_code == 409
        assert client.get(f"/v1/tasks/{run_id}/artifacts/../../etc/passwd").status_code == 404


def test_a_token_is_required_off_loopback_and_then_checked(tmp_path):
    with pytest.raises(LamforgeError, match="--token"):
        serve_app(host="0.0.0.0", port=1, db=tmp_path / "r.sqlite")
    with _client(tmp_path, token="s3cret") as client:
        assert client.get("/v1/tasks").status_code == 401
        assert client.get("/v1/tasks", headers={"Authorization": "Bearer s3cret"}).status_code == 200
        assert client.get("/").status_code == 200  # the page itself; its calls carry the token


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _serve(tmp_path, make_agent):
    """The service on a real port (uvicorn in a thread): a context manager yielding its base URL."""
    import contextlib

    import uvicorn

    @contextlib.contextmanager
    def serving():
        port = _free_port()
        app = create_app(RunStore(tmp_path / "runs.sqlite"), tmp_path / "artifacts", make_agent=make_agent)
        server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        deadline = time.time() + 20
        while not server.started:
            assert time.time() < deadline, "the service did not start"
            time.sleep(0.05)
        try:
            yield f"http://127.0.0.1:{port}"
        finally:
            server.should_exit = True
            thread.join(10)

    return serving()


@pytest.fixture
def live_app(tmp_path):
    """The service with the confirming agent, for the browser."""
    from lamforge.envs.web.browser import chromium_path

    if chromium_path() is None:
        pytest.skip("no system Chromium (make chromium)")
    with _serve(tmp_path, _factory(ConfirmingExpert)) as url:
        yield url


def test_the_page_runs_a_request_shows_its_steps_and_takes_a_confirmation(live_app, tmp_path):
    from playwright.sync_api import sync_playwright

    from lamforge.envs.web.browser import LAUNCH_ARGS, chromium_path

    shot = Path(__file__).resolve().parent.parent / "docs" / "app.png"
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium_path(), headless=True, args=LAUNCH_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 860})
            page.goto(live_app)
            page.wait_for_selector("#family option[value=bold_text]", state="attached")  # options are never "visible"
            page.select_option("#family", "bold_text")
            page.select_option("#agent", "model")
            page.click("#go")
            page.wait_for_selector(".ask button[data-a='yes']", timeout=30_000)
            page.wait_for_timeout(200)
            shot.parent.mkdir(exist_ok=True)
            page.screenshot(path=str(shot), full_page=True)  # the README's picture: a run mid-way, asking
            page.click(".ask button[data-a='yes']")
            verdict = page.wait_for_selector("[data-role='verdict']", timeout=30_000)
            assert verdict.inner_text().startswith("succeeded")
            assert page.locator(".step").count() >= 2
            page.wait_for_selector(".doc p", timeout=10_000)  # the document as it is now (fetched after the verdict)
            assert "you answered: yes" in page.inner_text(".run")
            page.wait_for_selector("#runs li")
            assert "succeeded" in page.inner_text("#runs")
        finally:
            browser.close()


def test_a_bounded_load_loses_no_run(tmp_path):
    """200 submissions, 8 at a time, on loopback: every run is accepted, ends and is kept; the
    request latencies are reported (not asserted: speed targets live in benchmarks)."""
    import statistics
    from concurrent.futures import ThreadPoolExecutor

    import httpx

    families = ["bold_text", "italic_text", "underline_text", "page_break", "delete_paragraph"]

    def submit(i: int) -> tuple[str, float]:
        t0 = time.perf_counter()
        r = httpx.post(f"{live_app}/v1/tasks", json={"env": "office", "family": families[i % 5], "seed": i,
                                                     "agent": "expert"}, timeout=30)
        assert r.status_code == 200, r.text
        return r.json()["id"], time.perf_counter() - t0

    with _serve(tmp_path, None) as live_app:  # the real agent factory: the reference expert
        with ThreadPoolExecutor(8) as pool:
            done = list(pool.map(submit, range(200)))
        ids = [i for i, _ in done]
        assert len(set(ids)) == 200
        deadline = time.time() + 120
        while True:
            runs = {r["id"]: r["status"] for r in httpx.get(f"{live_app}/v1/tasks?limit=500", timeout=30).json()["runs"]}
            if all(runs.get(i) in ("succeeded", "failed", "error") for i in ids) or time.time() > deadline:
                break
            time.sleep(0.5)
        assert all(i in runs for i in ids), "a run was lost"
        assert [runs[i] for i in ids].count("succeeded") == 200, {s: list(runs.values()).count(s) for s in set(runs.values())}
        latencies = sorted(t for _, t in done)
        print(f"submit latency p50 {statistics.median(latencies) * 1000:.0f} ms, "
              f"p95 {latencies[int(0.95 * len(latencies)) - 1] * 1000:.0f} ms")
