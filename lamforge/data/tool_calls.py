"""Self-instruct function-calling data from an API catalog, kept only when it passes three checks.

    lamforge collect tool-calls --env service --n 200 --out runs/service/tool_calls
    lamforge collect tool-calls --env service --n 50 --model smollm2-135m   # the model words the requests

For each candidate: pick a catalog function, fill its arguments with real values from the store's
database (an order that exists, a pending order for a cancellation, an e-mail address on file), and
word a request for it (a template of the function's description, or a model given the function's
documentation and the call). Then verify, as trajectories are (``lamforge.data.verify``):

1. format: the call is a well-typed call of a catalog function and its text line parses back to it;
2. execution: run in a fresh episode of the environment, it returns no error;
3. outcome: it did what the request asks: every argument value is stated in the request (the
   request grounds the call; a model's wording that drops or invents a value fails here), a write
   changed the database or outbox, a lookup's result names the entity asked for.

Each candidate is stored as a one-step trajectory (request -> call) with its checks and verdict in a
crash-safe store, so ``lamforge train --phase 2`` can learn from the ``pass`` ones.
"""

from __future__ import annotations

import json
import random
from collections import Counter
from collections.abc import Callable, Iterable
from pathlib import Path

from lamforge.core.schemas import Action, Outcome, Status, Step, Task, Trajectory
from lamforge.data.verify import format_ok

READS = {"get_order", "get_customer", "find_customer", "list_customer_orders"}

# request templates per business function, filled from the arguments
TEMPLATES: dict[str, tuple[str, ...]] = {
    "get_order": ("What is in order {order_id}?", "Look up order #{order_id} for me.", "Show me the details of order {order_id}."),
    "get_customer": ("Show customer account {customer_id}.", "Who is customer {customer_id}?"),
    "find_customer": ("Find the customer called {name}.", "Which account belongs to {email}?"),
    "list_customer_orders": ("List every order of customer {customer_id}.", "What has customer {customer_id} ordered?"),
    "create_return": ("Open a return for item {item_id} of order {order_id}.", "Start a return on order {order_id}, item {item_id}."),
    "issue_refund": ("Refund {amount} on order {order_id}.", "Give back {amount} for order {order_id}."),
    "cancel_order": ("Cancel order {order_id}.", "Order {order_id} should be cancelled."),
    "update_shipping_address": ("Send order {order_id} to {address}.",),
    "update_customer_email": ("Customer {customer_id} now uses {email}.",),
    "change_shipping_method": ("Ship order {order_id} {method}.", "Make order {order_id} go {method}."),
    "add_store_credit": ("Add {amount} store credit for customer {customer_id}.",),
    "add_customer_note": ("Note on customer {customer_id}: {text}",),
    "send_email": ("E-mail {to} with the subject '{subject}' saying: {body}",),
}


def _candidate(rng: random.Random, template: str) -> tuple[str, dict]:
    """A business function and real argument values from ``template``'s data."""
    from lamforge.envs.service.db import store_data

    data = store_data(template)
    orders = data.rows["orders"]
    function = rng.choice(sorted(TEMPLATES))
    order = rng.choice([o for o in orders if o["status"] == "pending"] if function in (
        "cancel_order", "update_shipping_address", "change_shipping_method") else
        [o for o in orders if o["status"] in ("shipped", "delivered")] if function == "create_return" else orders)
    customer = rng.choice(data.rows["customers"])
    item = rng.choice(data.order_items(order["id"]))
    args = {
        "get_order": lambda: {"order_id": order["id"]},
        "get_customer": lambda: {"customer_id": customer["id"]},
        "find_customer": lambda: rng.choice(({"name": customer["name"]}, {"email": customer["email"]})),
        "list_customer_orders": lambda: {"customer_id": customer["id"]},
        "create_return": lambda: {"order_id": order["id"], "item_id": item["id"]},
        "issue_refund": lambda: {"order_id": order["id"], "amount": float(rng.choice((5, 10, 12.5, 20)))},
        "cancel_order": lambda: {"order_id": order["id"]},
        "update_shipping_address": lambda: {"order_id": order["id"],
                                            "address": f"{rng.randrange(2, 99)} Birch Road, {customer['city']}"},
        "update_customer_email": lambda: {"customer_id": customer["id"],
                                          "email": f"{customer['name'].split()[0].lower()}@newmail.example"},
        "change_shipping_method": lambda: {"order_id": order["id"], "method": rng.choice(("express", "overnight"))},
        "add_store_credit": lambda: {"customer_id": customer["id"], "amount": float(rng.choice((5, 10, 25)))},
        "add_customer_note": lambda: {"customer_id": customer["id"], "text": rng.choice(("call back tomorrow",
                                                                                        "prefers e-mail"))},
        "send_email": lambda: {"to": customer["email"], "subject": f"Your order {order['id']}",
                               "body": "It is on its way."},
    }[function]()
    return function, args


def _fmt(v) -> str:
    return f"{v:g}" if isinstance(v, float) else str(v)


def word_request(rng: random.Random, function: str, args: dict, backend=None, action_set=None) -> str:
    if backend is None:
        import string

        values = {k: _fmt(v) for k, v in args.items()}
        fits = [t for t in TEMPLATES[function]
                if {f for _, f, _, _ in string.Formatter().parse(t) if f} <= set(values)]
        return rng.choice(fits).format(**values)
    spec = action_set.get(function)
    call = Action(function=function, args=args).call_text()
    from lamforge.core.prompts import prompt

    asked = prompt("data", "tool_call_request").format(name=spec.name, description=spec.description, call=call)
    return backend.chat([{"role": "user", "content": asked}], max_tokens=48, stop=["\n"]).text.strip()


def grounded(request: str, args: dict) -> bool:
    """Every argument value is stated in the request."""
    low = request.lower()
    return all(_fmt(v).lower() in low for v in args.values())


def outcome_ok(function: str, args: dict, result: str, before: tuple, after: tuple, request: str) -> bool:
    if not grounded(request, args):
        return False
    if function in READS:  # a lookup must answer about what was asked
        return all(_fmt(v).lower() in result.lower() for v in args.values())
    return before != after  # a write must change the database or the outbox


def _fingerprint(env) -> tuple:
    from lamforge.agents.search_expert import state_digest

    return state_digest(env.judge()) or tuple(json.dumps(env.judge().rows(t), default=str)
                                                     for t in ("orders", "customers", "returns", "refunds", "notes"))


def generate(env_name: str, n: int, out: str | Path, *, seed: int = 0, backend=None,
             progress: Callable[[int, int], None] | None = None, resume: bool = False,
             exclude_templates: Iterable[str] = ()) -> dict:
    """``n`` candidate calls grounded in the environment's stores. Stores in ``exclude_templates``
    (the held-out split's) are never drawn from: their orders and customers are evaluation data."""
    from lamforge.core.errors import LamforgeError
    from lamforge.data.store import RecordStore
    from lamforge.envs import make
    from lamforge.envs.tasks import families

    fams = families(env_name)
    excluded = set(exclude_templates)
    templates = sorted({t for f in fams.values() for t in f.templates} - excluded)
    if not templates:
        raise LamforgeError(f"every store of {env_name} is held out ({sorted(excluded)}): nothing to generate from")
    rng = random.Random(seed)
    env = make(env_name)
    base = env.unwrapped
    kept = Counter()
    try:
        with RecordStore(Path(out), Trajectory, key_fn=lambda t: t.task.id) as store:
            if len(store) and not resume:
                raise LamforgeError(f"{out} already holds {len(store)} examples; pass --resume or choose another --out")
            for i in range(n):
                template = rng.choice(templates)
                function, args = _candidate(rng, template)
                request = word_request(rng, function, args, backend, base.action_set)
                task_id = f"toolcall-{seed}-{i}"
                if store.has(task_id):
                    continue
                # a free request: no family check; the three checks below judge the candidate
                task = Task(id=task_id, family="free_request", request=request, env_id=base.env_id,
                            template=template, params={"function": function, "args": args})
                obs, _ = env.reset(options={"task": task})
                before = _fingerprint(base)
                action = Action(function=function, args=args, status=Status.FINISH)
                after_obs, *_rest, info = env.step(action)
                step = Step(index=0, observation=obs, action=action, error=info.get("error"))
                traj = Trajectory(id=task_id, task=task, agent="self-instruct", steps=[step])
                checks = {"format": format_ok(traj, base.action_set), "execution": step.error is None}
                checks["outcome"] = checks["execution"] and outcome_ok(function, args, after_obs.state, before,
                                                                        _fingerprint(base), request)
                verdict = "pass" if all(checks.values()) else "fail"
                traj.outcome = Outcome(success=verdict == "pass", verdict=verdict, terminated=True, checks=checks,
                                       reason="self-instruct candidate")
                store.append(traj)
                kept[verdict] += 1
                kept[f"{verdict}:{function}"] += 1
                if progress:
                    progress(i + 1, n)
    finally:
        env.close()
    return {"candidates": kept["pass"] + kept["fail"], "passed": kept["pass"], "failed": kept["fail"],
            "per_function_pass": {k.split(":", 1)[1]: v for k, v in sorted(kept.items()) if k.startswith("pass:")},
            "out": str(out)}
