"""The customer-service environment's source of self-instruct function calls (``EnvSpec.tool_calls``):
which functions only read, request wordings per function, a call with real argument values drawn
from a store's database, and a fingerprint of the state a write must change.

    lamforge collect tool-calls --env service --n 200 --out runs/service/tool_calls
"""

from __future__ import annotations

import json
import random

READS = {"get_order", "get_customer", "find_customer", "list_customer_orders"}

# request wordings per business function, filled from the arguments
WORDINGS: dict[str, tuple[str, ...]] = {
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


def candidate(rng: random.Random, template: str) -> tuple[str, dict]:
    """A business function and real argument values from ``template``'s data."""
    from lamforge.envs.service.db import store_data

    data = store_data(template)
    orders = data.rows["orders"]
    function = rng.choice(sorted(WORDINGS))
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


def fingerprint(env) -> tuple:
    """What a write must change: a digest of the store's files, or its tables' rows."""
    from lamforge.core.search import state_digest

    return state_digest(env.judge()) or tuple(json.dumps(env.judge().rows(t), default=str)
                                              for t in ("orders", "customers", "returns", "refunds", "notes"))
