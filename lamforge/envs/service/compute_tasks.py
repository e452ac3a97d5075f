"""Service tasks that need computation (issue #18, code actions): the amount is a share of an order's
total, which a small model gets wrong in its head and right as Python run in the sandbox
(``run_python``). Registered with the other service families on import of ``tasks``.
"""

from __future__ import annotations

import shutil

from lamforge.envs.service.tasks import ENV_ID, ServiceFamily, _refunds_only, call
from lamforge.envs.tasks import finish, register_families

PERCENTS = (10, 15, 20, 25, 30, 40)


def share(total: float, percent: int) -> float:
    return round(total * percent / 100, 2)


class PartialRefund(ServiceFamily):
    name = "partial_refund"
    description = "Refund a percentage of an order's total (computed with run_python)."
    requests = ("Refund {percent}% of order {order}'s total as a goodwill gesture.",
                "Give the customer of order #{order} {percent} percent of the order total back.",
                "Order {order} arrived late: refund {percent}% of what it cost.")

    def available(self) -> bool:
        return shutil.which("bwrap") is not None  # the code action's sandbox (make bubblewrap)

    def sample(self, rng):
        template = rng.choice(self.templates)
        order, _ = self.pick_order(rng, template)
        percent = rng.choice(PERCENTS)
        return self.make_task(rng, self.word(rng, order=order["id"], percent=percent), template,
                              order_id=order["id"], percent=percent, amount=share(order["total"], percent),
                              total=order["total"])

    def check(self, task, state):
        rows = _refunds_only(state, task.params["order_id"])
        return rows is not None and len(rows) == 1 and abs(rows[0]["amount"] - task.params["amount"]) < 0.01

    def solution(self, task):
        p = task.params
        return finish([call("get_order", order_id=p["order_id"]),
                       call("run_python", code=f"result = round({p['total']} * {p['percent']} / 100, 2)"),
                       call("issue_refund", order_id=p["order_id"], amount=p["amount"])])


register_families(ENV_ID, [PartialRefund()])
