"""The customer-service API as :class:`ActionSpec` declarations: the store's business functions and
several hundred distractors (the rest of a company's API catalog), so that choosing the right API
is part of every task.

The distractors are generated from a domain vocabulary (inventory, marketing, payroll, ...) with real
JSON-schema parameters and documentation; calling one runs harmlessly and returns a plausible
result (see ``ServiceApp.distractor``). Their names never collide with a business function.
"""

from __future__ import annotations

import random

from lamforge.core.actions import ActionSet, ActionSpec, Param


# what cannot be taken back once the service has done it (money, messages, cancellations)
IRREVERSIBLE = {"send_email", "issue_refund", "cancel_order", "add_store_credit"}


def _api(name: str, description: str, params: list[Param], doc: str = "") -> ActionSpec:
    return ActionSpec(name=name, kind="api", description=description, params=params, doc=doc,
                      irreversible=name in IRREVERSIBLE)


def _p(name: str, type_: str = "string", description: str = "", required: bool = True, enum=None) -> Param:
    return Param(name=name, type=type_, description=description, required=required, enum=enum)


CARRIER_ENUM = ["UPS", "DHL", "FedEx", "USPS"]

BUSINESS = [
    _api("get_order", "Look up an order by its number: status, customer id, address, items and total.",
         [_p("order_id", "integer", "The order number, e.g. 4417.")],
         "Returns the order with its items (item_id, name, size, quantity, price, status)."),
    _api("list_customer_orders", "List the orders of a customer (numbers, dates, status, totals).",
         [_p("customer_id", "integer", "The customer id.")]),
    _api("get_customer", "Look up a customer account by id: name, e-mail, phone, city, tier, store credit.",
         [_p("customer_id", "integer", "The customer id (from an order or a search).")]),
    _api("find_customer", "Search customer accounts by name or e-mail address.",
         [_p("name", description="Full or partial name.", required=False),
          _p("email", description="E-mail address.", required=False)],
         "Returns the matching customers with their ids and e-mail addresses."),
    _api("create_return", "Open a return (RMA) for one item of an order; returns the return id.",
         [_p("order_id", "integer", "The order number."),
          _p("item_id", "integer", "The id of the item to return (from get_order)."),
          _p("reason", description="Why the customer returns it.", required=False)],
         "Only delivered or shipped orders can have returns. The return id looks like RMA-4417-1."),
    _api("create_return_label", "Buy a prepaid shipping label for a return from the shipping-label service.",
         [_p("return_id", description="The return id, e.g. RMA-4417-1."),
          _p("carrier", description="Carrier of the label.", required=False, enum=CARRIER_ENUM)],
         "Returns label_id, tracking_number, url and cost. Default carrier UPS."),
    _api("send_email", "Send an e-mail to a customer through the mail service, optionally with a label attached.",
         [_p("to", description="Recipient e-mail address."),
          _p("subject", description="Subject line."),
          _p("body", description="Message text."),
          _p("attachment", description="A label id (LBL-...) to attach.", required=False)]),
    _api("issue_refund", "Refund money to the customer's original payment method for an order or one item.",
         [_p("order_id", "integer", "The order number."),
          _p("amount", "number", "Amount to refund."),
          _p("item_id", "integer", "The item refunded, when it is one item.", required=False)],
         "The total refunded on an order cannot exceed its total."),
    _api("cancel_order", "Cancel an order that has not shipped yet.",
         [_p("order_id", "integer", "The order number."),
          _p("reason", description="Why it is cancelled.", required=False)]),
    _api("update_shipping_address", "Change the delivery address of an order that has not shipped yet.",
         [_p("order_id", "integer", "The order number."),
          _p("address", description="The new street address and city.")]),
    _api("update_customer_email", "Change the e-mail address on a customer account.",
         [_p("customer_id", "integer", "The customer id."),
          _p("email", description="The new e-mail address.")]),
    _api("change_shipping_method", "Upgrade or change the shipping speed of an order that has not shipped yet.",
         [_p("order_id", "integer", "The order number."),
          _p("method", description="Shipping speed.", enum=["standard", "express", "overnight"])]),
    _api("add_store_credit", "Add store credit to a customer account (goodwill, compensation).",
         [_p("customer_id", "integer", "The customer id."),
          _p("amount", "number", "Credit to add.")]),
    _api("add_customer_note", "Write a note on a customer account for the service team.",
         [_p("customer_id", "integer", "The customer id."),
          _p("text", description="The note.")]),
]
BUSINESS_NAMES = frozenset(s.name for s in BUSINESS)

# --- distractors ---------------------------------------------------------------------------------

# domain -> objects (singular, snake_case) with a noun phrase for the docs
DOMAINS: dict[str, list[tuple[str, str]]] = {
    "inventory": [("stock_level", "stock level of a product"), ("warehouse_bin", "warehouse storage bin"),
                  ("reorder_rule", "automatic reorder rule"), ("stock_transfer", "transfer of stock between sites"),
                  ("cycle_count", "inventory cycle count")],
    "marketing": [("campaign", "marketing campaign"), ("newsletter", "newsletter issue"),
                  ("coupon", "discount coupon"), ("audience_segment", "audience segment"),
                  ("landing_page", "landing page")],
    "finance": [("invoice", "supplier invoice"), ("tax_rate", "sales tax rate"), ("ledger_entry", "ledger entry"),
                ("payout", "marketplace payout"), ("budget", "department budget")],
    "people": [("employee", "employee record"), ("shift", "work shift"), ("timesheet", "timesheet"),
               ("leave_request", "leave request"), ("payroll_run", "payroll run")],
    "catalog": [("product_listing", "product listing"), ("price_rule", "pricing rule"),
                ("product_review", "product review"), ("bundle", "product bundle"), ("collection", "product collection")],
    "logistics": [("carrier_contract", "carrier contract"), ("pickup_slot", "courier pickup slot"),
                  ("pallet", "pallet"), ("freight_quote", "freight quote"), ("delivery_zone", "delivery zone")],
    "support": [("faq_article", "help-centre article"), ("macro", "reply macro"), ("survey", "satisfaction survey"),
                ("chat_transcript", "chat transcript"), ("sla_policy", "service-level policy")],
    "platform": [("webhook", "webhook subscription"), ("api_key", "API key"), ("audit_log", "audit log entry"),
                 ("feature_flag", "feature flag"), ("report_export", "report export")],
    "stores": [("store_location", "physical store location"), ("opening_hours", "opening hours entry"),
               ("pos_terminal", "point-of-sale terminal"), ("gift_card", "gift card"), ("loyalty_tier", "loyalty tier")],
    "suppliers": [("supplier", "supplier"), ("purchase_order", "purchase order"), ("supplier_quote", "supplier quote"),
                  ("quality_check", "quality inspection"), ("sample_request", "product sample request")],
}
STATUS_WORDS = ["draft", "active", "paused", "archived"]
FORMATS = ["csv", "json", "pdf"]

VERBS = [  # verb, name pattern, description pattern, extra params
    ("get", "get_{o}", "Get one {d} by id.", lambda o: [_p(f"{o}_id", "integer", f"Id of the {o.replace('_', ' ')}.")]),
    ("list", "list_{o}s", "List {d}s, newest first, optionally filtered by status.",
     lambda o: [_p("status", description="Filter by status.", required=False, enum=STATUS_WORDS),
                _p("limit", "integer", "Maximum number of results.", required=False)]),
    ("create", "create_{o}", "Create a new {d}.",
     lambda o: [_p("name", description="A name for it."), _p("notes", description="Free-text notes.", required=False)]),
    ("update", "update_{o}", "Update the name or status of a {d}.",
     lambda o: [_p(f"{o}_id", "integer", "Its id."), _p("status", description="New status.", required=False,
                                                         enum=STATUS_WORDS)]),
    ("archive", "archive_{o}", "Archive a {d} so it no longer shows in lists.",
     lambda o: [_p(f"{o}_id", "integer", "Its id.")]),
    ("export", "export_{o}_report", "Export a report of {d}s for a date range.",
     lambda o: [_p("date_from", description="Start date, YYYY-MM-DD."), _p("date_to", description="End date, YYYY-MM-DD."),
                _p("format", description="File format.", required=False, enum=FORMATS)]),
    ("count", "count_{o}s", "Count {d}s created in a date range.",
     lambda o: [_p("date_from", description="Start date, YYYY-MM-DD.", required=False)]),
    ("assign", "assign_{o}", "Assign a {d} to a team member.",
     lambda o: [_p(f"{o}_id", "integer", "Its id."), _p("assignee", description="Team member's user name.")]),
]

# near misses: plausible customer-service functions that do not do what the tasks need
NEAR_MISSES = [
    _api("send_sms", "Send a text message to a phone number.",
         [_p("phone", description="Phone number."), _p("text", description="Message.")]),
    _api("send_push_notification", "Send a push notification to a customer's mobile app.",
         [_p("customer_id", "integer", "The customer id."), _p("message", description="Notification text.")]),
    _api("email_invoice", "E-mail the invoice PDF of an order to the billing contact.",
         [_p("order_id", "integer", "The order number.")]),
    _api("create_exchange", "Exchange an item for another size without a refund.",
         [_p("order_id", "integer", "The order number."), _p("item_id", "integer", "The item."),
          _p("new_size", description="Size wanted.")]),
    _api("schedule_courier_pickup", "Book a courier to collect a parcel from an address.",
         [_p("address", description="Pickup address."), _p("date", description="Day, YYYY-MM-DD.")]),
    _api("issue_gift_card", "Issue a new gift card with a balance.",
         [_p("amount", "number", "Balance."), _p("recipient_email", description="Who receives it.")]),
    _api("refund_shipping_fee", "Refund only the shipping fee of an order.",
         [_p("order_id", "integer", "The order number.")]),
    _api("get_order_invoice", "Get the invoice (tax breakdown) of an order.",
         [_p("order_id", "integer", "The order number.")]),
    _api("lookup_customer_by_phone", "Find a customer account by phone number.",
         [_p("phone", description="Phone number.")]),
    _api("cancel_subscription", "Cancel a customer's product subscription.",
         [_p("subscription_id", "integer", "The subscription id.")]),
    _api("update_billing_address", "Change the billing address on a customer account.",
         [_p("customer_id", "integer", "The customer id."), _p("address", description="New billing address.")]),
    _api("create_support_ticket", "Open a ticket in the help-desk queue.",
         [_p("subject", description="Ticket subject."), _p("priority", description="Priority.", required=False,
                                                          enum=["low", "normal", "high"])]),
    _api("escalate_ticket", "Escalate a help-desk ticket to a supervisor.",
         [_p("ticket_id", "integer", "The ticket id.")]),
    _api("print_packing_slip", "Print the packing slip of an order in the warehouse.",
         [_p("order_id", "integer", "The order number.")]),
    _api("void_shipping_label", "Void an outbound shipping label that was not used.",
         [_p("tracking_number", description="Tracking number.")]),
    _api("get_shipping_rates", "Quote shipping rates for a parcel.",
         [_p("weight_kg", "number", "Weight."), _p("country", description="Destination country code.")]),
    _api("track_package", "Tracking events of an outbound parcel.",
         [_p("tracking_number", description="Tracking number.")]),
    _api("apply_coupon", "Apply a coupon code to an open cart.",
         [_p("cart_id", "integer", "Cart id."), _p("code", description="Coupon code.")]),
    _api("get_return_policy", "The store's return policy text for a product category.",
         [_p("category", description="Product category.")]),
    _api("merge_customer_accounts", "Merge two duplicate customer accounts.",
         [_p("keep_id", "integer", "Account to keep."), _p("merge_id", "integer", "Account merged into it.")]),
    _api("reset_customer_password", "Send a password-reset link to a customer.",
         [_p("customer_id", "integer", "The customer id.")]),
    _api("get_loyalty_points", "Loyalty points balance of a customer.",
         [_p("customer_id", "integer", "The customer id.")]),
    _api("flag_order_for_fraud_review", "Send an order to manual fraud review.",
         [_p("order_id", "integer", "The order number.")]),
    _api("reserve_stock", "Reserve stock of a SKU for an order.",
         [_p("sku", description="Product SKU."), _p("quantity", "integer", "Units.")]),
]


def distractor_specs(seed: int = 7) -> list[ActionSpec]:
    """The generated distractors (deterministic): each object of each domain with most verbs."""
    rng = random.Random(seed)
    out = list(NEAR_MISSES)
    for domain, objects in DOMAINS.items():
        for obj, phrase in objects:
            for _verb, name, desc, params in VERBS:
                if rng.random() < 0.2:  # not every object has every verb, as in real APIs
                    continue
                n = name.format(o=obj)
                out.append(_api(n, desc.format(d=phrase), params(obj),
                                f"Part of the {domain} API."))
    names = [s.name for s in out]
    assert len(names) == len(set(names)) and not set(names) & BUSINESS_NAMES
    return out


class ServiceActionSet(ActionSet):
    """The whole catalog. Its prompt text does not list hundreds of functions: the observation shows
    the ones retrieved for the current step (``[label] Function name: (params) description``).
    Listed by signature in the agent's system prompt they came to 4,625 tokens, and every training
    row (5,100-6,400 tokens) was cut at phase 2's 2,048 before its first action: the service forge
    trained on rows with no target at all (found in session 9)."""

    def signatures(self) -> str:
        return self.prompt_text()

    def prompt_text(self) -> str:
        return ("The functions retrieved for this step are listed on screen as [label] Function "
                "name: (parameters) description. Call a function by name with keyword arguments, "
                'e.g. get_order(order_id=4417) or send_email(to="a@b.example", subject="Hi", body="..."). '
                "Results of your calls appear on the next screen.")


DISTRACTORS = distractor_specs()
# The code action (PAL): arithmetic a small model gets wrong in its head ("refund 15% of the total") is
# written as Python and run in the sandbox (lamforge.core.sandbox). Last in the catalog, so that the
# labels of the functions before it stay what forged models saw.
RUN_PYTHON = _api("run_python", "Compute with Python: a share or sum of amounts. Assign the answer to result.",
                  [_p("code", description="Python code, e.g. result = round(84.5 * 15 / 100, 2).")],
                  "Runs in a sandbox with no network and no files, for at most 5 seconds; returns result. "
                  "Calculate a percentage, a fraction of an order total, a sum of prices.")
SERVICE_ACTIONS = ServiceActionSet([*BUSINESS, *DISTRACTORS, RUN_PYTHON])


def signature(spec: ActionSpec) -> str:
    """``(order_id: integer, reason: string = None)``: how the screen shows a function's parameters."""
    parts = []
    for p in spec.params:
        kind = "|".join(map(str, p.enum)) if p.enum else p.type
        parts.append(f"{p.name}: {kind}" + ("" if p.required else " = None"))
    return f"({', '.join(parts)})"


def doc_text(spec: ActionSpec) -> str:
    """What retrieval indexes: name words, description, documentation, parameter names."""
    words = spec.name.replace("_", " ")
    params = " ".join(f"{p.name.replace('_', ' ')} {p.description}" for p in spec.params)
    return f"{words}. {spec.description} {spec.doc} {params}"
