"""The food-ordering web application: FastAPI, server-rendered HTML (Jinja2), plain forms and links,
no script. Every page reads the episode's SQLite database; every form writes it, then redirects
(POST-redirect-GET), except a refused form, which comes back with its messages and what was typed.

    /                         menu (categories, items, prices, sold-out marks)
    /item/{id}                size, extras, quantity, special instructions -> Add to cart
    /cart                     lines (quantity, update, remove), promo code, totals
    /checkout                 address, delivery time, instructions, tip, payment (card form) -> Place order
    /orders, /orders/{number} order history, confirmation, Order again, Cancel order

``create_app(holder)`` reads ``holder.db_path`` on every request, so one server serves episode after
episode while the environment swaps the database file under it.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape

from lamforge.envs.food.db import CheckoutError, FoodDB
from lamforge.envs.food.menu import DELIVERY_TIMES, TIPS, money

TEMPLATES = Environment(loader=FileSystemLoader(Path(__file__).parent / "templates"),
                        autoescape=select_autoescape(["html"]))
MAX_QUANTITY = 20


class DBHolder(Protocol):
    db_path: Path | None


def create_app(holder: DBHolder) -> FastAPI:
    app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)

    def db() -> FoodDB:
        if holder.db_path is None:
            raise RuntimeError("no episode database yet: the environment sets one on reset")
        return FoodDB(holder.db_path)

    def page(name: str, title: str, status: int = 200, message: str = "", errors: dict[str, str] | None = None,
             **values: Any) -> HTMLResponse:
        d = db()
        html = TEMPLATES.get_template(name).render(
            title=title, shop=d.restaurant(), cart=values.pop("cart", None) or d.cart(), message=message,
            errors=errors or {}, money=money, **values)
        return HTMLResponse(html, status_code=status)

    def back(url: str, message: str) -> RedirectResponse:
        return RedirectResponse(f"{url}?msg={quote(message)}" if message else url, status_code=303)

    async def fields(request: Request) -> dict[str, Any]:
        form = await request.form()
        out: dict[str, Any] = {k: str(v) for k, v in form.items()}
        out["extras"] = [str(v) for v in form.getlist("extras")]
        return out

    @app.get("/", response_class=HTMLResponse)
    def menu(msg: str = ""):
        items = db().items()
        categories: dict[str, list] = {}
        for item in items:
            categories.setdefault(item["category"], []).append(item)
        return page("menu.html", "Menu", message=msg, categories=list(categories.items()))

    @app.get("/item/{item_id}", response_class=HTMLResponse)
    def item_page(item_id: int):
        item = db().item(item_id)
        if item is None:
            return page("orders.html", "Not found", 404, errors={"item": "There is no such item on the menu."},
                        orders=[])
        return page("item.html", item["name"], item=item, form={"extras": []})

    @app.post("/item/{item_id}", response_class=HTMLResponse)
    async def add_to_cart(item_id: int, request: Request):
        d, form = db(), await fields(request)
        item = d.item(item_id)
        if item is None:
            return back("/", "That item is no longer on the menu.")
        errors: dict[str, str] = {}
        sizes = [s["name"] for s in item["sizes"]]
        size = form.get("size") or (sizes[0] if sizes else None)
        if sizes and size not in sizes:
            errors["size"] = f"Choose a size: {', '.join(sizes)}."
        if not sizes:
            size = None
        extras = form["extras"]
        known = {e["name"] for e in item["extras"]}
        if set(extras) - known:
            errors["extras"] = f"{item['name']} has no extra {min(set(extras) - known)}."
        text = (form.get("quantity") or "1").strip()
        quantity = int(text) if text.isdigit() else 0
        if not 1 <= quantity <= MAX_QUANTITY:
            errors["quantity"] = f"Quantity must be a whole number from 1 to {MAX_QUANTITY}."
        if not item["in_stock"]:
            errors["stock"] = f"Sorry, {item['name']} is sold out today. Please choose something else."
        if errors:
            return page("item.html", item["name"], 409 if "stock" in errors else 422, errors=errors, item=item,
                        form=form)
        d.add_to_cart(item_id, size, extras, quantity, (form.get("note") or "").strip())
        label = f"{item['name']} ({size})" if size else item["name"]
        return back("/", f"Added {quantity} × {label} to your cart.")

    @app.get("/cart", response_class=HTMLResponse)
    def cart(msg: str = ""):
        return page("cart.html", "Cart", message=msg)

    @app.post("/cart/{line_id}/quantity")
    async def set_quantity(line_id: int, request: Request):
        form = await fields(request)
        text = (form.get("quantity") or "").strip()
        if not text.isdigit() or int(text) > MAX_QUANTITY:
            return page("cart.html", "Cart", 422, errors={"quantity": f"Quantity must be a whole number from 0 "
                                                                      f"to {MAX_QUANTITY} (0 removes the line)."})
        if not db().set_quantity(line_id, int(text)):
            return back("/cart", "That line is no longer in your cart.")
        return back("/cart", "Cart updated." if int(text) else "Item removed.")

    @app.post("/cart/{line_id}/remove")
    def remove_line(line_id: int):
        removed = db().remove_line(line_id)
        return back("/cart", "Item removed." if removed else "That line is no longer in your cart.")

    @app.post("/cart/promo")
    async def apply_promo(request: Request):
        form = await fields(request)
        try:
            code = db().apply_promo(form.get("code") or "")
        except CheckoutError as e:
            return page("cart.html", "Cart", 422, errors=e.fields)
        return back("/cart", f"Promo code {code} applied.")

    @app.post("/cart/promo/remove")
    def remove_promo():
        db().remove_promo()
        return back("/cart", "Promo code removed.")

    def checkout_page(form: dict[str, Any], errors: dict[str, str] | None = None, status: int = 200,
                      message: str = "") -> HTMLResponse:
        return page("checkout.html", "Checkout", status, message=message, errors=errors, form=form,
                    times=DELIVERY_TIMES, tips=list(TIPS))

    @app.get("/checkout", response_class=HTMLResponse)
    def checkout(msg: str = ""):
        if not db().cart()["lines"]:
            return back("/cart", "Your cart is empty: add something from the menu first.")
        return checkout_page({"delivery_time": DELIVERY_TIMES[0], "tip": "No tip"}, message=msg)

    @app.post("/checkout", response_class=HTMLResponse)
    async def place_order(request: Request):
        form = await fields(request)
        try:
            number = db().place_order(form, dt.datetime.now().strftime("%Y-%m-%d %H:%M"))
        except CheckoutError as e:
            if "cart" in e.fields and not db().cart()["lines"]:
                return back("/cart", e.fields["cart"])
            return checkout_page(form, e.fields, 422)
        return back(f"/orders/{number}", f"Thank you! Your order {number} has been placed.")

    @app.get("/orders", response_class=HTMLResponse)
    def orders(msg: str = ""):
        return page("orders.html", "Your orders", message=msg, orders=db().orders())

    @app.get("/orders/{number}", response_class=HTMLResponse)
    def order(number: str, msg: str = ""):
        found = db().order(number)
        if found is None:
            return page("orders.html", "Your orders", 404, errors={"order": f"There is no order {number}."},
                        orders=db().orders())
        return page("order.html", f"Order {number}", message=msg, order=found)

    @app.post("/orders/{number}/reorder")
    def reorder(number: str):
        try:
            n = db().reorder(number)
        except KeyError:
            return back("/orders", f"There is no order {number}.")
        except CheckoutError as e:
            return back(f"/orders/{number}", e.fields["reorder"])
        return back("/cart", f"Added {n} item{'s' if n != 1 else ''} from order {number} to your cart.")

    @app.post("/orders/{number}/cancel")
    def cancel(number: str):
        try:
            db().cancel(number)
        except KeyError:
            return back("/orders", f"There is no order {number}.")
        except CheckoutError as e:
            return back(f"/orders/{number}", e.fields["cancel"])
        return back(f"/orders/{number}", f"Order {number} has been cancelled.")

    return app
