"""The store's two outside services, real HTTP apps on loopback: shipping labels and e-mail.

    python -m lamforge.envs.service.services labels     # prints its port, then serves
    python -m lamforge.envs.service.services email

Each runs as its own process (FastAPI on uvicorn) on an ephemeral port of 127.0.0.1, started by the
environment and stopped when it closes; :class:`ServiceProcess` does that. The child binds the socket
itself and prints the port, so there is no race for a free port.

* labels: ``POST /labels`` {return_id, order_id, carrier} -> {label_id, tracking_number, url, cost}.
  Ids are a hash of the inputs: the same return always gets the same label (reproducible episodes).
* email: ``POST /send`` {to, subject, body, attachments} appends the message to the outbox file the
  environment set with ``PUT /outbox`` (one JSON line each); the task's check reads that file.

Both take ``POST /_fault`` {mode: none|error|slow|garbage, delay}: a switch the tests use to make a
real server fail, hang or answer garbage.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import select
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from pydantic import BaseModel

CARRIERS = {"UPS": 4.9, "DHL": 5.6, "FedEx": 6.2, "USPS": 3.8}
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[a-z]{2,}$", re.IGNORECASE)


def label_for(return_id: str, carrier: str) -> dict:
    """The label the service issues for a return (a pure function of its inputs)."""
    digest = hashlib.sha1(f"{return_id}|{carrier}".encode()).hexdigest()
    label_id = f"LBL-{digest[:8].upper()}"
    tracking = f"{carrier[:2].upper()}{int(digest[8:20], 16) % 10**12:012d}"
    return {"label_id": label_id, "tracking_number": tracking, "carrier": carrier,
            "url": f"https://labels.example/{label_id}.pdf", "cost": CARRIERS[carrier]}


def _fault_app(app):
    """Add the fault switch to an app: error (HTTP 500), slow (sleep first), garbage (not JSON)."""
    import asyncio

    from fastapi import Request
    from fastapi.responses import PlainTextResponse

    state = {"mode": "none", "delay": 0.0}

    @app.post("/_fault")
    async def fault(body: dict) -> dict:
        state["mode"], state["delay"] = body.get("mode", "none"), float(body.get("delay", 5.0))
        return {"mode": state["mode"]}

    @app.middleware("http")
    async def inject(request: Request, call_next):
        if request.url.path.startswith("/_") or state["mode"] == "none":
            return await call_next(request)
        if state["mode"] == "slow":
            await asyncio.sleep(state["delay"])
            return await call_next(request)
        if state["mode"] == "garbage":
            return PlainTextResponse("<html>502 upstream gar\x00bage", status_code=200)
        return PlainTextResponse("internal error", status_code=500)

    @app.get("/_health")
    async def health() -> dict:
        return {"ok": True}

    return app


class LabelRequest(BaseModel):
    return_id: str
    order_id: int
    carrier: str = "UPS"


class Message(BaseModel):
    to: str
    subject: str
    body: str
    attachments: list[str] = []


class Outbox(BaseModel):
    path: str


def labels_app():
    from fastapi import FastAPI, HTTPException

    app = FastAPI(title="shipping labels")

    @app.post("/labels")
    def create(req: LabelRequest) -> dict:
        if req.carrier not in CARRIERS:
            raise HTTPException(422, f"unknown carrier {req.carrier!r}; one of {sorted(CARRIERS)}")
        if not re.fullmatch(r"RMA-\d+-\d+", req.return_id):
            raise HTTPException(422, f"{req.return_id!r} is not a return id (RMA-<order>-<n>)")
        return label_for(req.return_id, req.carrier)

    return _fault_app(app)


def email_app():
    from fastapi import FastAPI, HTTPException

    app = FastAPI(title="e-mail")
    state: dict = {"outbox": None}

    @app.put("/outbox")
    def set_outbox(box: Outbox) -> dict:
        state["outbox"] = Path(box.path)
        return {"outbox": box.path}

    @app.post("/send")
    def send(msg: Message) -> dict:
        if state["outbox"] is None:
            raise HTTPException(503, "no outbox configured")
        if not _EMAIL.match(msg.to):
            raise HTTPException(422, f"{msg.to!r} is not an e-mail address")
        box: Path = state["outbox"]
        n = sum(1 for _ in box.open()) if box.exists() else 0
        message_id = f"MSG-{n + 1:04d}"
        with box.open("a", encoding="utf-8") as f:
            f.write(json.dumps({"id": message_id, **msg.model_dump()}) + "\n")
        return {"message_id": message_id, "status": "queued"}

    return _fault_app(app)


APPS = {"labels": labels_app, "email": email_app}


def _exit_with_parent(parent: int) -> None:
    """The child runs in its own session (a Ctrl-C meant for the parent must not kill it mid-episode),
    so nothing would end it when the parent is killed: it checks once a second and leaves then."""
    import threading

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1.0)
        os._exit(0)

    threading.Thread(target=watch, daemon=True, name="parent-watch").start()


def _serve(name: str, parent: int | None = None) -> None:
    import uvicorn

    if parent:
        _exit_with_parent(parent)

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)  # connections made before uvicorn is up wait in the backlog instead of being refused
    app = APPS[name]()
    print(sock.getsockname()[1], flush=True)
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False))
    server.run(sockets=[sock])


class ServiceProcess:
    """One service in a child process; ``url`` once started; ``stop`` ends it (and is idempotent)."""

    def __init__(self, name: str, start_timeout: float = 30.0):
        if name not in APPS:
            raise ValueError(f"no service {name!r}; known: {', '.join(APPS)}")
        self.name = name
        self.proc = subprocess.Popen([sys.executable, "-m", "lamforge.envs.service.services", name, str(os.getpid())],
                                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                                     start_new_session=True)
        self.port = self._read_port(start_timeout)
        self.url = f"http://127.0.0.1:{self.port}"

    def _read_port(self, timeout: float) -> int:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            ready, _, _ = select.select([self.proc.stdout], [], [], 0.1)
            if ready:
                line = self.proc.stdout.readline().strip()
                if line.isdigit():
                    return int(line)
            if self.proc.poll() is not None:
                break
        self.stop()
        raise RuntimeError(f"the {self.name} service did not start (exit code {self.proc.returncode})")

    def alive(self) -> bool:
        return self.proc.poll() is None

    def kill(self) -> None:
        """Kill it hard (tests of a service that died)."""
        if self.alive():
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait()

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc.stdout:
            self.proc.stdout.close()


if __name__ == "__main__":
    _serve(sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else None)
