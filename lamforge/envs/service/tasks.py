"""The customer-service task families (registered on import). Each samples a request about a real
order or customer of a store template, checks the resulting database rows and outbox, and gives a
reference solution whose values (ids, e-mail addresses, label ids) come from the template's
deterministic data, as a clerk who knows the system would type them.
"""

from __future__ import annotations

import shutil

from lamforge.envs.service.db import short_name, store_data
from lamforge.envs.service.services import label_for
# the base family and the checks' helpers live apart; compute_tasks still imports them from here
from lamforge.envs.service.task_common import (  # noqa: F401  (PLAN_*: re-exported)
    ENV_ID, PLAN_UNGROUNDED, PLAN_WORDS, ServiceFamily, _emails_to, _norm, _order_row, _refunds_only, call)
from lamforge.envs.tasks import finish, register_families

REASONS = ("too small", "too large", "the wrong colour", "damaged", "not as described")
STREETS = ("Orchard Road", "Canal Street", "Hill Crescent", "Market Square", "Bridge Lane")


class ReturnAndEmailLabel(ServiceFamily):
    name = "return_and_email_label"
    description = "Open a return for an item, create its label and e-mail the label to the customer."
    statuses = ("shipped", "delivered")
    requests = ("Return the {product} from order {order} and e-mail the label to the customer{via}.",
                ("Order {order}: the customer wants to send back the {product}. Set up the return and email "
                 "them the return label{via}."),
                ("Please process a return for the {product} in order #{order} and send the shipping label to "
                 "the customer by e-mail{via}."))

    def sample(self, rng):
        template = rng.choice(self.templates)
        order, customer, item = self.pick_item(rng, template)
        carrier = rng.choice((None, None, "DHL", "FedEx", "USPS"))
        via = f" (ship it with {carrier})" if carrier else ""
        return self.make_task(rng, self.word(rng, product=short_name(item["name"]), order=order["id"], via=via),
                              template, order_id=order["id"], item_id=item["id"], customer_id=customer["id"],
                              email=customer["email"], carrier=carrier)

    def check(self, task, state):
        p = task.params
        rets = [r for r in state.rows("returns") if r["order_id"] == p["order_id"] and r["item_id"] == p["item_id"]]
        labels = {lb["id"]: lb for lb in state.rows("labels") if lb["return_id"] in {r["id"] for r in rets}}
        if not labels or (p["carrier"] and not any(lb["carrier"] == p["carrier"] for lb in labels.values())):
            return False
        return any(set(m["attachments"]) & set(labels) for m in _emails_to(state, p["email"]))

    def solution(self, task):
        p = task.params
        rid = f"RMA-{p['order_id']}-1"
        label = label_for(rid, p["carrier"] or "UPS")
        return finish([call("get_order", order_id=p["order_id"]),
                       call("create_return", order_id=p["order_id"], item_id=p["item_id"], reason="customer request"),
                       call("create_return_label", return_id=rid, carrier=p["carrier"]),
                       call("get_customer", customer_id=p["customer_id"]),
                       call("send_email", to=p["email"], subject=f"Return label for order {p['order_id']}",
                            body=f"Here is your prepaid return label. Tracking number: {label['tracking_number']}.",
                            attachment=label["label_id"])])


class OpenReturn(ServiceFamily):
    name = "open_return"
    description = "Open a return for one item of an order, with the customer's reason."
    statuses = ("shipped", "delivered")
    requests = ("Open a return for the {product} in order {order}; the customer says it is {reason}.",
                "The customer of order {order} is returning the {product} because it is {reason}. Log the return.",
                "Create a return for order {order}, item: {product}, reason: {reason}.")

    def sample(self, rng):
        template = rng.choice(self.templates)
        order, _, item = self.pick_item(rng, template)
        reason = rng.choice(REASONS)
        return self.make_task(rng, self.word(rng, product=short_name(item["name"]), order=order["id"], reason=reason),
                              template, order_id=order["id"], item_id=item["id"], reason=reason)

    def check(self, task, state):
        p = task.params
        return any(r["order_id"] == p["order_id"] and r["item_id"] == p["item_id"]
                   and _norm(p["reason"]) in _norm(r["reason"] or "") for r in state.rows("returns"))

    def solution(self, task):
        p = task.params
        return finish([call("get_order", order_id=p["order_id"]),
                       call("create_return", order_id=p["order_id"], item_id=p["item_id"], reason=p["reason"])])


class RefundOrder(ServiceFamily):
    name = "refund_order"
    description = "Refund a whole order."
    requests = ("Refund order {order} in full.", "Give the customer all their money back for order #{order}.",
                "Order {order} has to be refunded completely.")

    def sample(self, rng):
        template = rng.choice(self.templates)
        order, _ = self.pick_order(rng, template)
        return self.make_task(rng, self.word(rng, order=order["id"]), template, order_id=order["id"],
                              total=order["total"])

    def check(self, task, state):
        rows = _refunds_only(state, task.params["order_id"])
        return rows is not None and abs(sum(r["amount"] for r in rows) - task.params["total"]) < 0.01

    def solution(self, task):
        p = task.params
        return finish([call("get_order", order_id=p["order_id"]),
                       call("issue_refund", order_id=p["order_id"], amount=p["total"])])


class RefundItem(ServiceFamily):
    name = "refund_item"
    description = "Refund one item of an order."
    requests = ("Refund the {product} from order {order}.",
                "The {product} in order #{order} never arrived: refund that item.",
                "Please refund just the {product} on order {order}.")

    def sample(self, rng):
        template = rng.choice(self.templates)
        order, _, item = self.pick_item(rng, template)
        return self.make_task(rng, self.word(rng, product=short_name(item["name"]), order=order["id"]), template,
                              order_id=order["id"], item_id=item["id"], price=item["price"],
                              quantity=item["quantity"], amount=round(item["price"] * item["quantity"], 2))

    def available(self) -> bool:
        return shutil.which("bwrap") is not None  # the calculator's sandbox (make bubblewrap)

    def check(self, task, state):
        p = task.params
        rows = _refunds_only(state, p["order_id"])
        return (rows is not None and len(rows) == 1 and rows[0]["item_id"] == p["item_id"]
                and abs(rows[0]["amount"] - p["amount"]) < 0.01)

    def solution(self, task):
        p = task.params
        # the line's amount is price x quantity, and a third of the lines hold 2: the session-14 LAM4
        # refunded the order total or the unit price instead. The calculator turns the product into
        # copying two numbers from get_order's result, which a 135M model does (as in partial_refund);
        # always, so that whether to compute is never a decision to learn.
        return finish([call("get_order", order_id=p["order_id"]),
                       call("run_python", code=f"result = round({p['price']} * {p['quantity']}, 2)"),
                       call("issue_refund", order_id=p["order_id"], amount=p["amount"], item_id=p["item_id"])])


class CancelOrder(ServiceFamily):
    name = "cancel_order"
    description = "Cancel a pending order."
    statuses = ("pending",)
    requests = ("Cancel order {order}, the customer changed their mind.", "Please cancel order #{order}.",
                "The customer no longer wants order {order}: cancel it.")

    def sample(self, rng):
        template = rng.choice(self.templates)
        order, _ = self.pick_order(rng, template)
        return self.make_task(rng, self.word(rng, order=order["id"]), template, order_id=order["id"])

    def check(self, task, state):
        cancelled = [o["id"] for o in state.rows("orders") if o["status"] == "cancelled"]
        return cancelled == [task.params["order_id"]]

    def solution(self, task):
        return finish([call("cancel_order", order_id=task.params["order_id"], reason="customer request")])


class CancelAndNotify(ServiceFamily):
    name = "cancel_and_notify"
    description = "Cancel a pending order and tell the customer by e-mail."
    statuses = ("pending",)
    requests = ("Cancel order {order} and let the customer know by e-mail.",
                "Order #{order} must be cancelled; e-mail the customer that it was cancelled.",
                "Please cancel order {order} and send the customer an e-mail confirming the cancellation.")

    def sample(self, rng):
        template = rng.choice(self.templates)
        order, customer = self.pick_order(rng, template)
        return self.make_task(rng, self.word(rng, order=order["id"]), template, order_id=order["id"],
                              customer_id=customer["id"], email=customer["email"])

    def check(self, task, state):
        p = task.params
        if _order_row(state, p["order_id"])["status"] != "cancelled":
            return False
        return any(str(p["order_id"]) in m["subject"] + m["body"] for m in _emails_to(state, p["email"]))

    def solution(self, task):
        p = task.params
        return finish([call("get_order", order_id=p["order_id"]),
                       call("cancel_order", order_id=p["order_id"], reason="customer request"),
                       call("get_customer", customer_id=p["customer_id"]),
                       call("send_email", to=p["email"], subject=f"Order {p['order_id']} cancelled",
                            body=f"Your order {p['order_id']} has been cancelled.")])


class OrderStatusEmail(ServiceFamily):
    name = "order_status_email"
    description = "E-mail a customer the status of their order."
    requests = ("E-mail {name} the current status of order {order}.",
                "{name} asked where order #{order} is. Send them its status by e-mail.",
                "Let the customer of order {order} know its status by e-mail.")

    def sample(self, rng):
        template = rng.choice(self.templates)
        order, customer = self.pick_order(rng, template)
        return self.make_task(rng, self.word(rng, order=order["id"], name=customer["name"]), template,
                              order_id=order["id"], customer_id=customer["id"], email=customer["email"],
                              status=order["status"])

    def check(self, task, state):
        p = task.params
        return any(str(p["order_id"]) in m["subject"] + m["body"] and p["status"] in (m["subject"] + m["body"]).lower()
                   for m in _emails_to(state, p["email"]))

    def solution(self, task):
        p = task.params
        return finish([call("get_order", order_id=p["order_id"]),
                       call("get_customer", customer_id=p["customer_id"]),
                       call("send_email", to=p["email"], subject=f"Status of order {p['order_id']}",
                            body=f"Your order {p['order_id']} is {p['status']}.")])


class ChangeAddress(ServiceFamily):
    name = "change_address"
    description = "Change the delivery address of a pending order."
    statuses = ("pending",)
    requests = ("Ship order {order} to {address} instead.", "The customer moved: deliver order #{order} to {address}.",
                "Change the delivery address of order {order} to {address}.")

    def sample(self, rng):
        template = rng.choice(self.templates)
        order, customer = self.pick_order(rng, template)
        address = f"{rng.randrange(2, 99)} {rng.choice(STREETS)}, {customer['city']}"
        return self.make_task(rng, self.word(rng, order=order["id"], address=address), template,
                              order_id=order["id"], address=address)

    def check(self, task, state):
        return _norm(_order_row(state, task.params["order_id"])["address"]) == _norm(task.params["address"])

    def solution(self, task):
        p = task.params
        return finish([call("update_shipping_address", order_id=p["order_id"], address=p["address"])])


class UpgradeShipping(ServiceFamily):
    name = "upgrade_shipping"
    description = "Switch a pending order to faster shipping."
    statuses = ("pending",)
    requests = ("Upgrade order {order} to {method} shipping.", "Order #{order} should go out {method}, please.",
                "Switch the shipping of order {order} to {method}.")

    def sample(self, rng):
        template = rng.choice(self.templates)
        order, _ = self.pick_order(rng, template)
        method = rng.choice([m for m in ("express", "overnight") if m != order["shipping_method"]])
        return self.make_task(rng, self.word(rng, order=order["id"], method=method), template,
                              order_id=order["id"], method=method)

    def check(self, task, state):
        return _order_row(state, task.params["order_id"])["shipping_method"] == task.params["method"]

    def solution(self, task):
        p = task.params
        return finish([call("change_shipping_method", order_id=p["order_id"], method=p["method"])])


class UpdateEmail(ServiceFamily):
    name = "update_email"
    description = "Change the e-mail address of a customer found by name."
    requests = ("{name} has a new e-mail address, {new}. Please update the account.",
                "Change {name}'s e-mail to {new}.", "Update the customer account of {name}: new email {new}.")

    def sample(self, rng):
        template = rng.choice(self.templates)
        customer = rng.choice(store_data(template).rows["customers"])
        first, last = customer["name"].lower().split()
        new = f"{first[0]}{last}{rng.randrange(1, 99)}@{rng.choice(('mailbox', 'inbox', 'post'))}.example"
        return self.make_task(rng, self.word(rng, name=customer["name"], new=new), template,
                              customer_id=customer["id"], name=customer["name"], new=new)

    def check(self, task, state):
        row = next(c for c in state.rows("customers") if c["id"] == task.params["customer_id"])
        return row["email"].lower() == task.params["new"].lower()

    def solution(self, task):
        p = task.params
        return finish([call("find_customer", name=p["name"]),
                       call("update_customer_email", customer_id=p["customer_id"], email=p["new"])])


class StoreCredit(ServiceFamily):
    name = "store_credit"
    description = "Give a customer found by name some store credit."
    requests = ("Give {name} {amount} dollars of store credit for the late delivery.",
                "Add {amount} in store credit to {name}'s account as an apology.",
                "{name} should get {amount} store credit for the trouble.")

    def sample(self, rng):
        template = rng.choice(self.templates)
        customer = rng.choice(store_data(template).rows["customers"])
        amount = rng.choice((5, 10, 15, 20, 25, 30, 50))
        return self.make_task(rng, self.word(rng, name=customer["name"], amount=amount), template,
                              customer_id=customer["id"], name=customer["name"], amount=amount)

    def check(self, task, state):
        credited = {c["id"]: c["store_credit"] for c in state.rows("customers") if c["store_credit"]}
        return credited.keys() == {task.params["customer_id"]} and \
            abs(credited[task.params["customer_id"]] - task.params["amount"]) < 0.01

    def solution(self, task):
        p = task.params
        return finish([call("find_customer", name=p["name"]),
                       call("add_store_credit", customer_id=p["customer_id"], amount=p["amount"])])


class AddNote(ServiceFamily):
    name = "add_note"
    description = "Write a note on the account of a customer found by e-mail address."
    requests = ("Add a note to the account of {email}: '{text}'", "Note on {email}'s account: '{text}'",
                "Please record '{text}' on the customer account {email}.")
    texts = ("prefers phone calls", "VIP: handle with priority", "asked not to receive newsletters",
             "address confirmed by phone", "second damaged parcel this year")

    def sample(self, rng):
        template = rng.choice(self.templates)
        customer = rng.choice(store_data(template).rows["customers"])
        text = rng.choice(self.texts)
        return self.make_task(rng, self.word(rng, email=customer["email"], text=text), template,
                              customer_id=customer["id"], email=customer["email"], text=text)

    def check(self, task, state):
        p = task.params
        return any(n["customer_id"] == p["customer_id"] and _norm(p["text"]) in _norm(n["text"])
                   for n in state.rows("notes"))

    def solution(self, task):
        p = task.params
        return finish([call("find_customer", email=p["email"]),
                       call("add_customer_note", customer_id=p["customer_id"], text=p["text"])])


FAMILIES = [ReturnAndEmailLabel(), OpenReturn(), RefundOrder(), RefundItem(), CancelOrder(), CancelAndNotify(),
            OrderStatusEmail(), ChangeAddress(), UpgradeShipping(), UpdateEmail(), StoreCredit(), AddNote()]
register_families(ENV_ID, FAMILIES)

# the families that need the code action (run_python) register themselves beside these
import lamforge.envs.service.compute_tasks  # noqa: E402,F401
