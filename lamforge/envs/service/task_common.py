"""What the customer-service task families share (:mod:`lamforge.envs.service.tasks`,
:mod:`lamforge.envs.service.compute_tasks`): the base family that picks an order of a store template and
words a plan from the reference solution, and the helpers the checks read the database rows and outbox with.

Kept apart from the families themselves, as the food and office environments keep a ``common`` module:
the families module is then the catalogue of tasks alone, and the base reads without scrolling past them.
"""

from __future__ import annotations

import random
from string import Formatter

from lamforge.core.schemas import Action, Task
from lamforge.envs.service.db import STORES, short_name, store_data
from lamforge.envs.tasks import TaskFamily

ENV_ID = "lamforge/Service-v0"

PLAN_WORDS = {
    "get_order": "Look up order {order_id}",
    "get_customer": "Look up customer {customer_id} to get the e-mail address",
    "find_customer": "Find the customer account of {who}",
    "create_return": "Open a return for item {item_id} of order {order_id}",
    "create_return_label": "Create a return label for {return_id}",
    "send_email": "E-mail {to}",
    "issue_refund": "Refund {amount} on order {order_id}",
    "cancel_order": "Cancel order {order_id}",
    "update_shipping_address": "Change the delivery address of order {order_id}",
    "update_customer_email": "Change the e-mail address of customer {customer_id}",
    "change_shipping_method": "Switch order {order_id} to {method} shipping",
    "add_store_credit": "Add {amount} store credit to customer {customer_id}",
    "add_customer_note": "Write the note on customer {customer_id}'s account",
    "run_python": "Compute the amount with run_python",
}
# A plan is made from the request alone (``ReactAgent`` plans before any call), so a step whose values
# only a lookup gives (the customer id, the e-mail address, the item id, the amount) is worded without
# them: a plan that names them teaches the planner to invent them.
PLAN_UNGROUNDED = {
    "get_customer": "Look up the order's customer to get the e-mail address",
    "find_customer": "Find the customer account",
    "create_return": "Open a return for the item",
    "create_return_label": "Create a return label for the return",
    "send_email": "E-mail the customer",
    "issue_refund": "Refund the amount on order {order_id}",
    "update_customer_email": "Change the customer's e-mail address",
    "add_store_credit": "Add the store credit to the customer's account",
    "add_customer_note": "Write the note on the customer's account",
}


def call(function: str, **args) -> Action:
    return Action(function=function, args={k: v for k, v in args.items() if v is not None})


def _norm(text: str) -> str:
    return " ".join(str(text).lower().replace(",", " ").split())


class ServiceFamily(TaskFamily):
    env_id = ENV_ID
    templates = tuple(STORES)
    statuses: tuple[str, ...] = ("pending", "shipped", "delivered")

    def pick_order(self, rng: random.Random, template: str) -> tuple[dict, dict]:
        data = store_data(template)
        order = rng.choice([o for o in data.rows["orders"] if o["status"] in self.statuses])
        return order, data.customer(order["customer_id"])

    def pick_item(self, rng: random.Random, template: str) -> tuple[dict, dict, dict]:
        """An order with an item whose short name is unique in it (so the request is unambiguous)."""
        data = store_data(template)
        while True:
            order, customer = self.pick_order(rng, template)
            its = data.order_items(order["id"])
            item = rng.choice(its)
            if sum(short_name(i["name"]) == short_name(item["name"]) for i in its) == 1:
                return order, customer, item

    def plan(self, task: Task) -> list[str]:
        out = []
        for a in self.solution(task):
            args = {**a.args, "who": a.args.get("name") or a.args.get("email")}
            words = PLAN_WORDS.get(a.function, "Call {f}")
            named = [k for _, k, _, _ in Formatter().parse(words) if k and k != "f"]
            if a.function in PLAN_UNGROUNDED and any(_norm(args.get(k)) not in _norm(task.request) for k in named):
                words = PLAN_UNGROUNDED[a.function]
            out.append(words.format(f=a.function, **args))
        return out


def _emails_to(state, address: str) -> list[dict]:
    return [m for m in state.emails() if m["to"].lower() == address.lower()]


def _refunds_only(state, order_id: int) -> list[dict] | None:
    """The refunds of ``order_id``, or None when money went to any other order as well."""
    rows = state.rows("refunds")
    if any(r["order_id"] != order_id for r in rows):
        return None
    return rows


def _order_row(state, order_id: int) -> dict:
    return next(o for o in state.rows("orders") if o["id"] == order_id)
