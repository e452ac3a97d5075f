"""The food-ordering site: menu generation, the database and the web app over HTTP (FastAPI's
TestClient), the loopback server's lifecycle, every family's check, and the site in a real headless
Chromium (reference solutions, bad input, the search expert)."""

from __future__ import annotations

import random
import socket
import threading

import pytest
from fastapi.testclient import TestClient

from lamforge.core.schemas import Action
from lamforge.envs.food import db as fdb
from lamforge.envs.food.app import create_app
from lamforge.envs.food.menu import MIN_ORDER, TEMPLATES, build_menu
from lamforge.envs.food.payment import luhn_ok, make_card
from lamforge.envs.food.server import FoodServer
from lamforge.envs.tasks import families
from lamforge.envs.web.browser import chromium_path
from lamforge.envs.web.site import WebState

FAMS = families("food")
needs_browser = pytest.mark.skipif(chromium_path() is None,
                                   reason="no Chromium at /usr/bin/chromium (run `make chromium`)")


# --- menus and tasks ---------------------------------------------------------------------------

def test_menus_are_deterministic_and_vary():
    assert build_menu("pizzeria", 5) == build_menu("pizzeria", 5)
    menus = [build_menu(t, s) for t in TEMPLATES for s in range(4)]
    assert len({(m.name, m.items) for m in menus}) == len(menus)
    for m in menus:
        assert m.sold_out() and m.in_stock(), m.name
        assert any(p.expired for p in m.promos) and any(not p.expired for p in m.promos)
        assert len({o.status for o in m.past_orders}) == 2


def test_at_least_15_families_with_varied_requests_and_short_solutions():
    assert len(FAMS) >= 15
    for name, fam in FAMS.items():
        tasks = [fam.sample(random.Random(s)) for s in range(12)]
        assert fam.sample(random.Random(3)) == tasks[3]  # same seed, same task
        assert len({t.request for t in tasks}) >= 6, name
        assert len({t.template for t in tasks}) >= 2, name
        for t in tasks:
            assert 1 <= len(fam.solution(t)) < 20, (name, t.id)  # fits the default step limit
            assert fam.plan(t) and not any(step.startswith("Call ") for step in fam.plan(t)), fam.plan(t)


def test_card_numbers():
    rng = random.Random(0)
    good, bad = make_card(rng), make_card(rng, declined=True)
    assert luhn_ok(good.replace(" ", "")) and len(good.replace(" ", "")) == 16
    assert luhn_ok(bad.replace(" ", "")) and bad.endswith("0002") and not good.endswith("0002")


# --- the app over HTTP ---------------------------------------------------------------------------

class _Holder:
    db_path = None


@pytest.fixture()
def shop(tmp_path):
    holder = _Holder()
    menu = build_menu("burgers", 11)
    holder.db_path = fdb.create(tmp_path / "shop.sqlite", menu)
    with TestClient(create_app(holder)) as client:
        yield client, menu, holder


def _add(client, item, size=None, extras=(), quantity="1", note=""):
    data = {"quantity": quantity, "extras": list(extras), "note": note}
    if size:
        data["size"] = size
    return client.post(f"/item/{item.id}", data=data)


def test_cart_add_merge_update_remove(shop):
    client, menu, holder = shop
    item = menu.in_stock(menu.categories[0])[0]
    extra = item.extras[0].name
    assert _add(client, item, item.sizes[-1], [extra]).status_code == 200
    _add(client, item, item.sizes[-1], [extra], quantity="2")  # same line: merged
    cart = fdb.FoodDB(holder.db_path).cart()
    assert [(li["item"], li["quantity"]) for li in cart["lines"]] == [(item.name, 3)]
    assert cart["subtotal"] == 3 * item.unit_price(item.sizes[-1], [extra])
    line = cart["lines"][0]["id"]
    assert client.post(f"/cart/{line}/quantity", data={"quantity": "x"}).status_code == 422
    client.post(f"/cart/{line}/quantity", data={"quantity": "5"})
    assert fdb.snapshot(holder.db_path)["cart"][0]["quantity"] == 5
    client.post(f"/cart/{line}/remove")
    assert fdb.snapshot(holder.db_path)["cart"] == []
    assert "no longer in your cart" in client.post(f"/cart/{line}/remove").text


def test_bad_item_input_is_refused_with_a_message(shop):
    client, menu, holder = shop
    gone = menu.sold_out()[0]
    r = _add(client, gone, gone.sizes[0] if gone.sizes else None)
    assert r.status_code == 409 and "sold out" in r.text
    item = menu.in_stock()[0]
    for bad in ("0", "-1", "abc", "99"):
        r = _add(client, item, item.sizes[0] if item.sizes else None, quantity=bad)
        assert r.status_code == 422 and "Quantity must be" in r.text
    assert _add(client, item, "Gigantic").status_code == 422 if item.sizes else True
    assert _add(client, item, item.sizes[0] if item.sizes else None, ["Gold leaf"]).status_code == 422
    assert client.get("/item/999").status_code == 404
    assert fdb.snapshot(holder.db_path)["cart"] == []


def test_promo_codes(shop):
    client, menu, holder = shop
    cheap = min(menu.in_stock(), key=lambda i: i.base_price)
    _add(client, cheap, cheap.sizes[0] if cheap.sizes else None)
    expired = next(p for p in menu.promos if p.expired)
    big = next(p for p in menu.promos if p.min_subtotal > cheap.base_price)
    assert "does not exist" in client.post("/cart/promo", data={"code": "NOPE"}).text
    assert "has expired" in client.post("/cart/promo", data={"code": expired.code}).text
    assert "needs a subtotal" in client.post("/cart/promo", data={"code": big.code}).text
    assert fdb.snapshot(holder.db_path)["promo"] is None
    free = next(p for p in menu.promos if p.kind == "free_delivery")
    client.post("/cart/promo", data={"code": free.code.lower()})  # codes are case-insensitive
    cart = fdb.FoodDB(holder.db_path).cart()
    assert cart["promo"]["code"] == free.code and cart["discount"] == cart["delivery_fee"]


def _checkout(client, **fields):
    form = {"street": "12 Main St", "city": "Springfield", "delivery_time": "As soon as possible", "tip": "No tip"}
    return client.post("/checkout", data={**form, **fields})


def test_checkout_validation_declined_card_and_recovery(shop):
    client, menu, holder = shop
    item = max(menu.in_stock(), key=lambda i: i.base_price)
    assert "cart is empty" in client.get("/checkout").text  # redirected to the cart
    _add(client, item, item.sizes[0] if item.sizes else None)
    r = _checkout(client, street="")
    assert r.status_code == 422 and "Enter a street address" in r.text and "Choose how you will pay" in r.text
    r = _checkout(client, payment="card", card_number="4111 1111 1111 1112", card_expiry="13/20", card_cvc="1")
    for msg in ("card number is not valid", "expiry date", "security code", "name on the card"):
        assert msg in r.text
    assert 'value="12 Main St"' in r.text  # what was typed stays
    declined = make_card(random.Random(1), declined=True)
    r = _checkout(client, payment="card", card_number=declined, card_expiry="12/39", card_cvc="123", card_name="A B")
    assert "declined" in r.text
    snap = fdb.snapshot(holder.db_path)
    assert not snap["new_orders"] and snap["payments"][-1]["status"] == "declined"
    r = _checkout(client, payment="cash", street="12  main street")
    assert r.status_code == 200 and "has been placed" in r.text
    snap = fdb.snapshot(holder.db_path)
    (order,) = snap["new_orders"]
    assert order["payment_method"] == "cash" and order["lines"][0]["item"] == item.name and snap["cart"] == []
    assert order["total"] == order["subtotal"] + order["delivery_fee"]


def test_minimum_order(shop):
    client, menu, _ = shop
    cheap = min(menu.in_stock(), key=lambda i: i.base_price)
    if cheap.base_price >= MIN_ORDER:
        pytest.skip("this menu has nothing under the minimum")
    _add(client, cheap, cheap.sizes[0] if cheap.sizes else None)
    assert "minimum order" in _checkout(client, payment="cash").text


def test_cancel_and_reorder(shop):
    client, menu, holder = shop
    delivered, preparing = menu.past_orders
    assert "can no longer be cancelled" in client.post(f"/orders/{delivered.number}/cancel").text
    assert "has been cancelled" in client.post(f"/orders/{preparing.number}/cancel").text
    assert client.post("/orders/F-1/cancel").status_code == 200  # unknown: back to the list with a message
    client.post(f"/orders/{delivered.number}/reorder")
    snap = fdb.snapshot(holder.db_path)
    assert {li["item"] for li in snap["cart"]} == {n for n, *_ in delivered.lines}
    assert {o["number"]: o["status"] for o in snap["seeded_orders"]} == {delivered.number: "delivered",
                                                                         preparing.number: "cancelled"}


# --- every family's check is false at the start --------------------------------------------------

@pytest.mark.parametrize("name", sorted(FAMS))
def test_check_is_false_on_the_start_state(name, tmp_path):
    for seed in range(3):
        task = FAMS[name].sample(random.Random(seed))
        p = task.params
        cart = [(n, s, tuple(e), q) for n, s, e, q in p.get("cart", [])]
        path = fdb.create(tmp_path / f"{seed}.sqlite", build_menu(task.template, p["menu_seed"]), cart)
        assert not task.check(WebState("http://x/", "", fdb.snapshot(path))), task.id


# --- the loopback server -------------------------------------------------------------------------

def _port_open(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def test_server_starts_on_loopback_and_stops_cleanly():
    import httpx

    before = {t.name for t in threading.enumerate()}
    server = FoodServer()
    server.new_episode(build_menu("cafe", 1))
    first = server.db_path
    assert _port_open(server.port) and httpx.get(server.url("/")).status_code == 200
    server.new_episode(build_menu("cafe", 2))
    assert not first.exists() and server.db_path.exists()  # one database file per episode
    root, port = server.root, server.port
    server.close()
    assert not _port_open(port) and not server.running and not root.exists()
    assert {t.name for t in threading.enumerate()} <= before


# --- in the browser ------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def env():
    from lamforge.envs import make

    environment = make("food")
    yield environment
    environment.close()


# a few families in the default run (one of each kind of flow); every family under -m slow
QUICK = ("order_declined_card_fallback", "reorder_past_order", "cart_remove_item", "checkout_cart")


@needs_browser
@pytest.mark.parametrize("name", [n if n in QUICK else pytest.param(n, marks=pytest.mark.slow) for n in sorted(FAMS)])
def test_reference_solution_in_the_browser(env, name):
    from lamforge.agents.expert import ReferenceExpert
    from lamforge.agents.runner import run_episode

    task = FAMS[name].sample(random.Random(7))
    env.reset(options={"task": task})
    assert not task.check(env.unwrapped.judge())
    traj = run_episode(env, ReferenceExpert(), task)
    assert traj.success, [(s.action.call_text(), s.error) for s in traj.steps]


def _obs_step(env, function, name, obs, **args):
    control = obs.find(name)
    assert control is not None, f"{name!r} not on screen: {[c.name for c in obs.controls]}"
    return env.step(Action(function=function, control_label=control.label, args=args))[0]


@needs_browser
def test_bad_input_in_the_browser(env):
    task = FAMS["order_pay_card"].sample(random.Random(2))
    menu = build_menu(task.template, task.params["menu_seed"])
    obs, _ = env.reset(options={"task": task})
    # a sold-out item: its Add to cart button is disabled, and clicking it says so
    gone = menu.sold_out()[0]
    obs = _obs_step(env, "click", gone.name, obs)
    assert any("Sold out today" in c.name for c in obs.controls)
    obs = _obs_step(env, "click", "Add to cart", obs)
    assert "disabled" in (obs.last_action_error or "")
    stale = obs.find("Back to menu").label
    obs = _obs_step(env, "click", "Back to menu", obs)
    # an element of the page left behind is gone: a clear error, and the episode goes on
    obs = env.step(Action(function="click", control_label=stale))[0]
    assert "no element" in (obs.last_action_error or "")
    name, size, _, _ = task.params["lines"][0]
    obs = _obs_step(env, "click", name, obs)
    if size:
        obs = _obs_step(env, "select_option", "Size", obs, option=size)
    obs = _obs_step(env, "click", "Add to cart", obs)
    obs = _obs_step(env, "click", "View cart", obs)
    obs = _obs_step(env, "click", "Go to checkout", obs)
    assert obs.find("Card number") is None  # hidden until "Credit card" is chosen
    obs = _obs_step(env, "fill", "Street address", obs, text=task.params["street"])
    obs = _obs_step(env, "click", "Credit card", obs)
    obs = _obs_step(env, "fill", "Card number", obs, text="1234 5678")
    obs = _obs_step(env, "click", "Place order", obs)
    assert any("card number is not valid" in c.name for c in obs.controls)  # shown on the page
    card = task.params["card"]
    assert obs.find("Card number").value == "1234 5678" and obs.find("Street address").value == task.params["street"]
    obs = _obs_step(env, "fill", "Card number", obs, text=card["number"])
    obs = _obs_step(env, "fill", "Expiry date (MM/YY)", obs, text=card["expiry"])
    obs = _obs_step(env, "fill", "CVC", obs, text=card["cvc"])
    obs = _obs_step(env, "fill", "Name on card", obs, text=card["name"])
    obs = _obs_step(env, "click", "Place order", obs)
    assert "has been placed" in " ".join(c.name for c in obs.controls)
    assert task.check(env.unwrapped.judge())


@needs_browser
@pytest.mark.slow  # ~6 s on an idle machine, minutes when the CPU is shared (it replays episodes)
def test_search_expert_solves_a_short_family(env):
    from lamforge.agents.runner import run_episode
    from lamforge.agents.search_expert import SearchExpert

    task = FAMS["cancel_order"].sample(random.Random(0))
    agent = SearchExpert(env, budget=60, depth=4)
    traj = run_episode(env, agent, task)
    assert traj.success and agent.last_search.found


@needs_browser
def test_close_stops_the_site():
    from lamforge.envs import make

    environment = make("food")
    environment.reset(options={"task": FAMS["cart_add_item"].sample(random.Random(0))})
    server = environment.unwrapped.site.server
    port, root = server.port, server.root
    assert _port_open(port)
    environment.close()
    assert not _port_open(port) and not server.running and not root.exists()
