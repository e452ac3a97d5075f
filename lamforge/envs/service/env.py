"""``lamforge/Service-v0``: customer service for an online store, over a real database and real
HTTP services on loopback.

    lamforge run --env service --agent expert --task return_and_email_label --seed 0

Each episode gets a fresh SQLite file (a copy of its store template, seeded deterministically) in a
workspace folder, and an outbox file the e-mail service appends to. The shipping-label and e-mail
services run as their own processes on ephemeral 127.0.0.1 ports from the first ``reset`` until
``close`` (a service that died is restarted at the next reset). With
``LAMFORGE_SERVICE_DB_URL=postgresql://...`` (or ``db_url=``) the same code runs on that server.

Observation: the request; ``state`` holds the result of the last call as text; the controls are the
catalog functions retrieved for the request (BM25 over their docs) plus a few pinned ones, each labelled by its place in the catalog so labels stay stable: choosing the right
function among 300+ is part of the task. Actions are plain API calls (``get_order(order_id=4417)``).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
import weakref
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from sqlalchemy import select

from lamforge.core.errors import ActionError, BadArguments
from lamforge.core.schemas import Action, Control, Task
from lamforge.envs.base import LamEnv
from lamforge.envs.service import db, trust
from lamforge.envs.service.app import ServiceApp
from lamforge.envs.service.functions import SERVICE_ACTIONS, doc_text, signature
from lamforge.envs.service.services import ServiceProcess

RESULT_CHARS = 700  # a long result is cut: a small model reads every token
# The screen lists the SCREEN_FUNCTIONS functions retrieved for the step, each with its description:
# 58% of a training row's tokens (signatures 37%, descriptions 21%; 80 rows of the session-11 forge).
# A leaner screen, 8 functions by name and parameters (``ServiceEnv(top_k=8, describe=False)``), cut
# rows from 1,033 to 698 tokens and so doubled the trajectories of a 40-minute forge (899 against 460,
# session 13, one machine, one after the other), and still lost: LAM2 online 27.5% against 40.0%,
# offline 25% against 70%, on 40 held-out tasks. The descriptions carry what a 135M model uses to
# tell neighbouring functions apart; the data they cost is worth less than they are.
# Any catalog function can be called, listed or not (the grammar offers all of them).
SCREEN_FUNCTIONS = 12
# Functions on every screen whatever retrieval finds: the lookups most tasks start from and the
# calculator. Retrieval matches the request's words, and a request rarely names its first step
# ("give Ann Lee $20 of store credit" never says "find customer"); the model then picked the
# nearest listed neighbour (add_customer_note). Share of 1,950 expert steps (the validation split of
# the session-14 forge) whose function was on screen: BM25 top-12 91.3%, top-12 + these pins 98.9%,
# top-8 + pins 97.5%; hybrid top-12 82.2%, MiniLM top-12 50.2%.
PINNED_FUNCTIONS = ("get_order", "find_customer", "get_customer", "run_python")
# The query was the request plus the last result's field names, so the screen changed after every
# call. With the pins the request alone finds every reference call (186 of 186 expert steps, 13
# families x 6 seeds), and a screen that stays put turns each later turn's control list into "No
# change.": rows 16% shorter (3,609 -> 3,029 characters, 52 expert trajectories), so a fixed budget
# trains on more of them. ``follow_results=True`` restores the moving screen.


@dataclass(frozen=True)
class ServiceState:
    """What a success check reads: the database (by URL; its file when SQLite) and the outbox."""

    db_url: str
    db_path: Path | None
    outbox: Path
    template: str

    def rows(self, table: str) -> list[dict]:
        engine = db.engine_for(self.db_url)
        try:
            with engine.connect() as conn:
                return [dict(r._mapping) for r in conn.execute(select(db.metadata.tables[table]))]
        finally:
            engine.dispose()

    def emails(self) -> list[dict]:
        if not self.outbox.is_file():
            return []
        return [json.loads(line) for line in self.outbox.read_text(encoding="utf-8").splitlines() if line.strip()]


@cache
def _retriever():
    from lamforge.core.retrieval import Retriever

    return Retriever([doc_text(s) for s in SERVICE_ACTIONS], method="bm25")


def _result_keys(result: str) -> str:
    """The field names of a result ("customer id status items"): they say what the next call can use,
    where the values (numbers, addresses) would only add noise to the query."""
    return " ".join(dict.fromkeys(re.findall(r'"(\w+)": ', result))).replace("_", " ")


def retrieve(query: str, k: int) -> list[int]:
    """Indices into the catalog of the ``k`` functions whose docs best match ``query``."""
    return [i for i, _ in _retriever().search(query, k)]


class ServiceEnv(LamEnv):
    env_id = "lamforge/Service-v0"
    action_set = SERVICE_ACTIONS

    def __init__(self, render_mode: str | None = None, max_steps: int = 12, workdir: str | None = None,
                 db_url: str | None = None, top_k: int = SCREEN_FUNCTIONS, timeout: float = 5.0,
                 describe: bool = True, pinned: tuple[str, ...] = PINNED_FUNCTIONS, follow_results: bool = False):
        super().__init__(render_mode=render_mode, max_steps=max_steps)
        self._root = Path(tempfile.mkdtemp(prefix="lamforge-service-", dir=workdir))
        self._cleanup = weakref.finalize(self, shutil.rmtree, str(self._root), True)  # as OfficeEnv's
        self._server_url = db_url or os.environ.get("LAMFORGE_SERVICE_DB_URL")
        self.top_k, self.timeout, self.describe, self.follow_results = top_k, timeout, describe, follow_results
        names = [spec.name for spec in SERVICE_ACTIONS]
        unknown = [n for n in pinned if n not in names]
        if unknown:
            raise ValueError(f"pinned functions not in the catalog: {unknown}")
        self.pinned = [names.index(n) for n in pinned]
        self.services: dict[str, ServiceProcess] = {}
        self.app: ServiceApp | None = None
        self._episode = 0
        self._workspace: Path | None = None
        self._db_url = ""
        self._db_path: Path | None = None
        self._engine = None
        self.results: list[str] = []  # every call of the episode and what it returned, as text
        self.evidence: list = []  # the records business calls returned (lamforge.core.guard.Evidence)

    # --- services --------------------------------------------------------------------------------
    def _ensure_services(self) -> None:
        dead = [n for n in ("labels", "email") if n not in self.services or not self.services[n].alive()]
        for name in dead:
            if name in self.services:
                self.services[name].stop()
            self.services[name] = ServiceProcess(name)
        if dead or self.app is None:
            if self.app is not None:
                self.app.close()
            self.app = ServiceApp(self.services["labels"].url, self.services["email"].url, self.timeout)

    # --- LamEnv hooks ----------------------------------------------------------------------------
    def _setup(self, task: Task) -> None:
        if task.template not in db.STORES:
            raise ValueError(f"service task {task.id} names store {task.template!r}; known: {', '.join(db.STORES)}")
        self._ensure_services()
        self._episode += 1
        if self._workspace is not None:  # keep only the current episode's files
            shutil.rmtree(self._workspace, ignore_errors=True)
        self._workspace = self._root / f"episode-{self._episode}"
        self._workspace.mkdir(parents=True)
        if self._engine is not None:
            self._engine.dispose()
        if self._server_url:
            self._db_url, self._db_path = self._server_url, None
            self._engine = db.engine_for(self._db_url)
            db.seed(self._engine, task.template)
        else:
            self._db_path = self._workspace / "store.sqlite"
            shutil.copyfile(self._template_db(task.template), self._db_path)
            self._db_url = f"sqlite:///{self._db_path}"
            self._engine = db.engine_for(self._db_url)
        self.app.use(self._engine)
        self.app.http.put(f"{self.services['email'].url}/outbox", json={"path": str(self._outbox)})
        self.results = []
        self.evidence = []

    @property
    def _outbox(self) -> Path:
        return self._workspace / "outbox.jsonl"

    def _template_db(self, template: str) -> Path:
        path = self._root / "templates" / f"{template}.sqlite"
        if not path.is_file():
            path.parent.mkdir(exist_ok=True)
            tmp = path.with_suffix(".tmp")
            engine = db.engine_for(f"sqlite:///{tmp}")
            db.seed(engine, template)
            engine.dispose()
            tmp.rename(path)
        return path

    def _execute(self, action: Action) -> str | None:
        if action.control_label is not None:
            return f"{action.function} is an API function: it takes no control label"
        try:
            result = self.app.catalog.execute(action)
        except ActionError as e:
            self.results.append(f"{action.call_text()} failed: {e}")
            return str(e)
        text = json.dumps(result, ensure_ascii=False, separators=(", ", ": "))
        if len(text) > RESULT_CHARS:
            text = text[:RESULT_CHARS] + " ...(cut)"
        self.results.append(f"{action.call_text()} returned {text}")
        found = trust.evidence(action, result)
        if found is not None:
            self.evidence.append(found)
        return None

    # --- safety (lamforge.core.guard, lamforge.safety) ---------------------------------------
    def guarded_args(self, action: Action) -> list:
        """The recipient of an e-mail, the order, item and amount of a refund, the order cancelled, the
        customer and amount of store credit."""
        return trust.guarded_args(action)

    def trusted_values(self) -> list:
        """The records the episode's business calls returned (structured fields only)."""
        return list(self.evidence)

    def plant(self, where: str, text: str) -> None:
        """Append ``text`` to a free-text field of the episode's database: ``customer:<id>:name``,
        ``order:<id>:address``, ``item:<id>:name`` (see ``lamforge.envs.service.trust.PLANTABLE``)."""
        trust.plant(self._engine, where, text)

    def planted_text(self, where: str) -> str:
        return trust.read(self._engine, where)

    def retrieval_query(self, request: str, last_result: str) -> str:
        """What the screen's functions are retrieved with at a step whose last call returned ``last_result``."""
        return f"{request} {_result_keys(last_result)}" if self.follow_results else request

    def _observe(self) -> tuple[list[Control], str]:
        last = self.results[-1] if self.results else ""
        found = set(retrieve(self.retrieval_query(self.task.request, last), self.top_k)) | set(self.pinned)
        specs = list(SERVICE_ACTIONS)
        controls = [Control(label=i + 1, name=specs[i].name, type="Function",
                            value=signature(specs[i]) + (f" {specs[i].description}" if self.describe else ""))
                    for i in sorted(found)]
        return controls, last or "No calls yet."

    def _target(self) -> Any:
        raise BadArguments("service actions run through the catalog")

    def _judge_state(self) -> ServiceState:
        return ServiceState(self._db_url, self._db_path, self._outbox, self.task.template)


    def _snapshot(self) -> dict:
        box = self._outbox.read_bytes() if self._outbox.is_file() else None
        data = self._db_path.read_bytes() if self._db_path is not None else db.dump(self._engine)
        return {"db": data, "outbox": box, "results": list(self.results), "evidence": list(self.evidence)}

    def _restore(self, snapshot: dict) -> None:
        if self._db_path is not None:
            self._db_path.write_bytes(snapshot["db"])
        else:
            db.load(self._engine, snapshot["db"])
        if snapshot["outbox"] is None:
            self._outbox.unlink(missing_ok=True)
        else:
            self._outbox.write_bytes(snapshot["outbox"])
        self.results = list(snapshot["results"])
        self.evidence = list(snapshot.get("evidence", []))

    def close(self) -> None:
        if self.app is not None:
            self.app.close()
            self.app = None
        for s in self.services.values():
            s.stop()
        self.services.clear()
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None
        self._cleanup()

    def __del__(self) -> None:  # a forgotten close() must not leave server processes behind
        for s in getattr(self, "services", {}).values():
            s.stop()
