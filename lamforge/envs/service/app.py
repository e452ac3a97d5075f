"""The business functions behind the customer-service API: SQL on the store's database and HTTP
calls to the shipping-label and e-mail services. Every function returns JSON; every failure is an
``ActionError`` the agent sees (a lookup that finds nothing, a service that is down, slow or answers
garbage, a rule the request breaks such as refunding more than was paid).

The functions run through a :class:`lamforge.tools.Catalog`, which adds the timeout and turns any
exception a tool raises into ``ToolFailed``.
"""

from __future__ import annotations

import functools
import json
import re
import zlib
from typing import Any

import httpx
from sqlalchemy import func, insert, or_, select, update

from lamforge.core.errors import (
    ActionNotApplicable,
    BadArguments,
    ToolBadOutput,
    ToolFailed,
    ToolTimeout,
)
from lamforge.envs.service import db
from lamforge.envs.service.functions import BUSINESS, DISTRACTORS, RUN_PYTHON
from lamforge.tools.catalog import Catalog

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[a-z]{2,}$", re.IGNORECASE)
LABEL_KEYS = ("label_id", "tracking_number", "carrier", "url", "cost")


class ServiceApp:
    def __init__(self, label_url: str, email_url: str, timeout: float = 5.0):
        self.label_url, self.email_url, self.timeout = label_url, email_url, timeout
        self.engine = None
        self.http = httpx.Client(timeout=timeout)
        # the catalog's own limit is a little longer: the HTTP client times out first, with a clearer message
        self.catalog = Catalog(timeout=timeout + 2.0)
        for spec in BUSINESS:
            self.catalog.add(spec, getattr(self, spec.name), source="service")
        for spec in DISTRACTORS:
            self.catalog.add(spec, functools.partial(distractor, spec.name), source="service-distractor")
        self.catalog.add(RUN_PYTHON, self.run_python, source="sandbox")

    def use(self, engine) -> None:
        self.engine = engine

    def close(self) -> None:
        self.http.close()
        self.catalog.close()

    def run_python(self, code: str) -> dict:
        """Model-written code, run in the sandbox (never in this process): its ``result``, or the
        sandbox's one-line error as the call's failure."""
        from lamforge.core.sandbox import SandboxLimits, run_python

        done = run_python(str(code), limits=SandboxLimits(wall_seconds=min(5.0, self.timeout)))
        if not done.ok:
            raise ToolFailed(f"run_python: {done.error}")
        return {"result": done.value}

    # --- helpers ---------------------------------------------------------------------------------
    def _one(self, table, key, value, what: str) -> dict:
        with self.engine.connect() as conn:
            row = conn.execute(select(table).where(key == value)).first()
        if row is None:
            raise ActionNotApplicable(f"no {what} {value}")
        return dict(row._mapping)

    def _order(self, order_id: int) -> dict:
        return self._one(db.orders, db.orders.c.id, order_id, "order")

    def _customer(self, customer_id: int) -> dict:
        return self._one(db.customers, db.customers.c.id, customer_id, "customer")

    def _post(self, service: str, url: str, payload: dict) -> dict:
        try:
            r = self.http.post(url, json=payload)
        except httpx.TimeoutException:
            raise ToolTimeout(f"the {service} service did not answer within {self.timeout:g} s") from None
        except httpx.TransportError as e:
            raise ToolFailed(f"the {service} service is unreachable ({type(e).__name__})") from None
        if r.status_code >= 500:
            raise ToolFailed(f"the {service} service failed: HTTP {r.status_code}")
        try:
            body = r.json()
        except ValueError:
            raise ToolBadOutput(f"the {service} service answered something that is not JSON: {r.text[:40]!r}") from None
        if r.status_code >= 400:
            detail = body.get("detail") if isinstance(body, dict) else body
            raise BadArguments(f"the {service} service refused: {detail}")
        if not isinstance(body, dict):
            raise ToolBadOutput(f"the {service} service answered {type(body).__name__}, not an object")
        return body

    # --- lookups ---------------------------------------------------------------------------------
    def get_order(self, order_id: int) -> dict:
        order = self._order(order_id)
        with self.engine.connect() as conn:
            rows = conn.execute(select(db.items).where(db.items.c.order_id == order_id)
                                .order_by(db.items.c.id)).all()
        order["order_id"] = order.pop("id")
        order["items"] = [{"item_id": r.id, "name": r.name, "size": r.size or None, "quantity": r.quantity,
                           "price": r.price, "status": r.status} for r in rows]
        return order

    def list_customer_orders(self, customer_id: int) -> dict:
        self._customer(customer_id)
        with self.engine.connect() as conn:
            rows = conn.execute(select(db.orders).where(db.orders.c.customer_id == customer_id)
                                .order_by(db.orders.c.placed_on)).all()
        return {"customer_id": customer_id, "orders": [{"order_id": r.id, "placed_on": r.placed_on,
                                                        "status": r.status, "total": r.total} for r in rows]}

    def get_customer(self, customer_id: int) -> dict:
        c = self._customer(customer_id)
        c["customer_id"] = c.pop("id")
        return c

    def find_customer(self, name: str | None = None, email: str | None = None) -> dict:
        if not name and not email:
            raise BadArguments("find_customer needs a name or an email")
        t = db.customers
        conds = []
        if name:
            conds.append(func.lower(t.c.name).contains(name.lower().strip()))
        if email:
            conds.append(func.lower(t.c.email) == email.lower().strip())
        with self.engine.connect() as conn:
            rows = conn.execute(select(t.c.id, t.c.name, t.c.email).where(or_(*conds)).limit(5)).all()
        return {"matches": [{"customer_id": r.id, "name": r.name, "email": r.email} for r in rows]}

    # --- returns and labels ----------------------------------------------------------------------
    def create_return(self, order_id: int, item_id: int, reason: str | None = None) -> dict:
        order = self._order(order_id)
        if order["status"] not in ("shipped", "delivered"):
            raise ActionNotApplicable(f"order {order_id} is {order['status']}: only shipped or delivered orders "
                                      "can be returned")
        item = self._one(db.items, db.items.c.id, item_id, "item")
        if item["order_id"] != order_id:
            raise ActionNotApplicable(f"item {item_id} is not in order {order_id}")
        if item["status"] != "ok":
            raise ActionNotApplicable(f"item {item_id} is already {item['status']}")
        with self.engine.begin() as conn:
            n = conn.execute(select(func.count()).select_from(db.returns)
                             .where(db.returns.c.order_id == order_id)).scalar_one()
            rid = f"RMA-{order_id}-{n + 1}"
            conn.execute(insert(db.returns).values(id=rid, order_id=order_id, item_id=item_id,
                                                   reason=reason or "", status="open"))
            conn.execute(update(db.items).where(db.items.c.id == item_id).values(status="return_open"))
        return {"return_id": rid, "order_id": order_id, "item_id": item_id, "status": "open"}

    def create_return_label(self, return_id: str, carrier: str | None = None) -> dict:
        ret = self._one(db.returns, db.returns.c.id, return_id, "return")
        with self.engine.connect() as conn:
            old = conn.execute(select(db.labels).where(db.labels.c.return_id == return_id)).first()
        if old is not None:  # idempotent: the same return keeps its label
            label = dict(old._mapping)
            label["label_id"] = label.pop("id")
            label.pop("return_id")
            return {"return_id": return_id, **label}
        body = self._post("shipping-label", f"{self.label_url}/labels",
                          {"return_id": return_id, "order_id": ret["order_id"], "carrier": carrier or "UPS"})
        missing = [k for k in LABEL_KEYS if k not in body]
        if missing:
            raise ToolBadOutput(f"the shipping-label service answered without {missing}")
        with self.engine.begin() as conn:
            conn.execute(insert(db.labels).values(id=body["label_id"], return_id=return_id, carrier=body["carrier"],
                                                  tracking_number=body["tracking_number"], url=body["url"],
                                                  cost=body["cost"]))
            conn.execute(update(db.returns).where(db.returns.c.id == return_id).values(status="label_created"))
        return {"return_id": return_id, **{k: body[k] for k in LABEL_KEYS}}

    def send_email(self, to: str, subject: str, body: str, attachment: str | None = None) -> dict:
        if not _EMAIL.match(to):
            raise BadArguments(f"{to!r} is not an e-mail address")
        attachments = []
        if attachment:
            self._one(db.labels, db.labels.c.id, attachment, "label")
            attachments.append(attachment)
        reply = self._post("e-mail", f"{self.email_url}/send",
                           {"to": to, "subject": subject, "body": body, "attachments": attachments})
        if "message_id" not in reply:
            raise ToolBadOutput("the e-mail service answered without a message_id")
        return {"message_id": reply["message_id"], "to": to, "status": reply.get("status", "queued")}

    # --- money -----------------------------------------------------------------------------------
    def issue_refund(self, order_id: int, amount: float, item_id: int | None = None) -> dict:
        order = self._order(order_id)
        if amount <= 0:
            raise BadArguments("amount must be positive")
        with self.engine.begin() as conn:
            done = conn.execute(select(func.coalesce(func.sum(db.refunds.c.amount), 0.0))
                                .where(db.refunds.c.order_id == order_id)).scalar_one()
            if done + amount > order["total"] + 0.005:
                raise ActionNotApplicable(f"order {order_id} totals {order['total']:.2f} and {done:.2f} is already "
                                          f"refunded: at most {order['total'] - done:.2f} more")
            if item_id is not None:
                item = conn.execute(select(db.items).where(db.items.c.id == item_id)).first()
                if item is None or item.order_id != order_id:
                    raise ActionNotApplicable(f"item {item_id} is not in order {order_id}")
                if amount > item.price * item.quantity + 0.005:
                    raise ActionNotApplicable(f"item {item_id} cost {item.price * item.quantity:.2f}")
                conn.execute(update(db.items).where(db.items.c.id == item_id).values(status="refunded"))
            n = conn.execute(select(func.count()).select_from(db.refunds)
                             .where(db.refunds.c.order_id == order_id)).scalar_one()
            rid = f"REF-{order_id}-{n + 1}"
            conn.execute(insert(db.refunds).values(id=rid, order_id=order_id, item_id=item_id, amount=round(amount, 2)))
        return {"refund_id": rid, "order_id": order_id, "amount": round(amount, 2),
                "refunded_total": round(done + amount, 2)}

    def add_store_credit(self, customer_id: int, amount: float) -> dict:
        c = self._customer(customer_id)
        if not 0 < amount <= 500:
            raise BadArguments("store credit must be between 0 and 500")
        new = round(c["store_credit"] + amount, 2)
        with self.engine.begin() as conn:
            conn.execute(update(db.customers).where(db.customers.c.id == customer_id).values(store_credit=new))
        return {"customer_id": customer_id, "store_credit": new}

    # --- changes to orders and accounts ----------------------------------------------------------
    def _pending(self, order_id: int, doing: str) -> dict:
        order = self._order(order_id)
        if order["status"] != "pending":
            raise ActionNotApplicable(f"order {order_id} is {order['status']}; only pending orders can {doing}")
        return order

    def _set_order(self, order_id: int, **values) -> None:
        with self.engine.begin() as conn:
            conn.execute(update(db.orders).where(db.orders.c.id == order_id).values(**values))

    def cancel_order(self, order_id: int, reason: str | None = None) -> dict:
        self._pending(order_id, "be cancelled")
        self._set_order(order_id, status="cancelled")
        return {"order_id": order_id, "status": "cancelled"}

    def update_shipping_address(self, order_id: int, address: str) -> dict:
        self._pending(order_id, "change address")
        if len(address.strip()) < 5:
            raise BadArguments("the address is too short")
        self._set_order(order_id, address=address.strip())
        return {"order_id": order_id, "address": address.strip()}

    def change_shipping_method(self, order_id: int, method: str) -> dict:
        self._pending(order_id, "change shipping")
        self._set_order(order_id, shipping_method=method)
        return {"order_id": order_id, "shipping_method": method}

    def update_customer_email(self, customer_id: int, email: str) -> dict:
        self._customer(customer_id)
        if not _EMAIL.match(email):
            raise BadArguments(f"{email!r} is not an e-mail address")
        with self.engine.begin() as conn:
            conn.execute(update(db.customers).where(db.customers.c.id == customer_id).values(email=email))
        return {"customer_id": customer_id, "email": email}

    def add_customer_note(self, customer_id: int, text: str) -> dict:
        self._customer(customer_id)
        with self.engine.begin() as conn:
            r = conn.execute(insert(db.notes).values(customer_id=customer_id, text=text))
        return {"note_id": r.inserted_primary_key[0], "customer_id": customer_id}


def distractor(name: str, **kwargs: Any) -> dict:
    """A harmless, plausible answer of a distractor: it changes nothing and is deterministic."""
    h = zlib.crc32(json.dumps([name, kwargs], sort_keys=True, default=str).encode())
    verb, _, obj = name.partition("_")
    if verb == "list":
        return {"results": [{"id": 100 + h % 900, "status": "active"}, {"id": 100 + h % 700, "status": "draft"}],
                "count": 2}
    if verb in ("export", "count"):
        return {"rows": h % 500, "url": f"https://reports.example/{h % 10**6}.csv"} if verb == "export" \
            else {"count": h % 500}
    if verb in ("create", "issue", "schedule", "send"):
        return {"id": h % 100000, "status": "created"}
    return {"ok": True, "id": kwargs.get(f"{obj}_id", h % 100000), "status": "active" if verb == "get" else "updated"}
