"""The ordering site's SQLite database: the restaurant and its menu (items, sizes, extras, stock),
promo codes, the customer's cart, orders with their lines, and payments.

One database file per episode, written by :func:`create` from a :class:`~lamforge.envs.food.menu.Menu`
(and, for tasks that start mid-way, a pre-filled cart). The web app changes it through
:class:`FoodDB`; the task checks read it back with :func:`snapshot`, never from the page.
Money is in integer cents everywhere.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable
from contextlib import closing
from pathlib import Path
from typing import Any

from lamforge.envs.food.menu import MIN_ORDER, TIPS, Menu

SCHEMA = """
CREATE TABLE restaurant (id INTEGER PRIMARY KEY CHECK (id = 1), name TEXT NOT NULL, kind TEXT NOT NULL,
    city TEXT NOT NULL, delivery_fee INTEGER NOT NULL, min_order INTEGER NOT NULL);
CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, category TEXT NOT NULL,
    description TEXT NOT NULL, base_price INTEGER NOT NULL, in_stock INTEGER NOT NULL, position INTEGER NOT NULL);
CREATE TABLE sizes (item_id INTEGER NOT NULL REFERENCES items(id), name TEXT NOT NULL,
    price_delta INTEGER NOT NULL, position INTEGER NOT NULL, PRIMARY KEY (item_id, name));
CREATE TABLE extras (item_id INTEGER NOT NULL REFERENCES items(id), name TEXT NOT NULL,
    price INTEGER NOT NULL, PRIMARY KEY (item_id, name));
CREATE TABLE promos (code TEXT PRIMARY KEY COLLATE NOCASE, kind TEXT NOT NULL, value INTEGER NOT NULL,
    min_subtotal INTEGER NOT NULL, expired INTEGER NOT NULL);
CREATE TABLE cart (id INTEGER PRIMARY KEY CHECK (id = 1), promo_code TEXT REFERENCES promos(code));
CREATE TABLE cart_lines (id INTEGER PRIMARY KEY, item_id INTEGER NOT NULL REFERENCES items(id),
    size TEXT, extras TEXT NOT NULL, quantity INTEGER NOT NULL CHECK (quantity > 0), note TEXT NOT NULL DEFAULT '');
CREATE TABLE orders (id INTEGER PRIMARY KEY, number TEXT NOT NULL UNIQUE, status TEXT NOT NULL,
    seeded INTEGER NOT NULL DEFAULT 0, street TEXT NOT NULL, city TEXT NOT NULL, delivery_time TEXT NOT NULL,
    instructions TEXT NOT NULL DEFAULT '', payment_method TEXT NOT NULL, promo_code TEXT,
    subtotal INTEGER NOT NULL, discount INTEGER NOT NULL, delivery_fee INTEGER NOT NULL, tip INTEGER NOT NULL,
    total INTEGER NOT NULL, placed_at TEXT NOT NULL);
CREATE TABLE order_lines (id INTEGER PRIMARY KEY, order_id INTEGER NOT NULL REFERENCES orders(id),
    item TEXT NOT NULL, size TEXT, extras TEXT NOT NULL, quantity INTEGER NOT NULL, unit_price INTEGER NOT NULL,
    note TEXT NOT NULL DEFAULT '');
CREATE TABLE payments (id INTEGER PRIMARY KEY, order_id INTEGER REFERENCES orders(id), method TEXT NOT NULL,
    card_last4 TEXT, card_name TEXT, amount INTEGER NOT NULL, status TEXT NOT NULL);
"""

CartLine = tuple[str, str | None, tuple[str, ...], int]  # (item, size, extras, quantity)


def connect(path: str | Path) -> sqlite3.Connection:
    conn = sqlite3.connect(str(path), timeout=5)
    conn.row_factory = sqlite3.Row
    conn.execute("PRAGMA foreign_keys = ON")
    # an episode's database is thrown away after the episode: no fsync on every commit (the search
    # expert replays episodes from scratch many times)
    conn.execute("PRAGMA synchronous = OFF")
    return conn


def create(path: str | Path, menu: Menu, cart: Iterable[CartLine] = (), promo: str | None = None) -> Path:
    """Write a fresh database for one episode (an existing file is replaced)."""
    path = Path(path)
    path.unlink(missing_ok=True)
    with closing(connect(path)) as conn, conn:
        conn.executescript(SCHEMA)
        conn.execute("INSERT INTO restaurant VALUES (1, ?, ?, ?, ?, ?)",
                     (menu.name, menu.template, menu.city, menu.delivery_fee, MIN_ORDER))
        for pos, item in enumerate(menu.items):
            conn.execute("INSERT INTO items VALUES (?, ?, ?, ?, ?, ?, ?)", (item.id, item.name, item.category,
                         item.description, item.base_price, int(item.in_stock), pos))
            conn.executemany("INSERT INTO sizes VALUES (?, ?, ?, ?)",
                             [(item.id, s, item.size_delta(s), n) for n, s in enumerate(item.sizes)])
            conn.executemany("INSERT INTO extras VALUES (?, ?, ?)", [(item.id, e.name, e.price) for e in item.extras])
        conn.executemany("INSERT INTO promos VALUES (?, ?, ?, ?, ?)",
                         [(p.code, p.kind, p.value, p.min_subtotal, int(p.expired)) for p in menu.promos])
        conn.execute("INSERT INTO cart VALUES (1, ?)", (promo,))
        for name, size, extras, qty in cart:
            item = menu.item(name)
            conn.execute("INSERT INTO cart_lines (item_id, size, extras, quantity) VALUES (?, ?, ?, ?)",
                         (item.id, size, json.dumps(sorted(extras)), qty))
        for past in menu.past_orders:
            lines = [(menu.item(n), s, e, q) for n, s, e, q in past.lines]
            subtotal = sum(i.unit_price(s, e) * q for i, s, e, q in lines)
            cur = conn.execute(
                "INSERT INTO orders (number, status, seeded, street, city, delivery_time, payment_method, subtotal,"
                " discount, delivery_fee, tip, total, placed_at) VALUES (?, ?, 1, ?, ?, ?, ?, ?, 0, ?, 0, ?, ?)",
                (past.number, past.status, past.street, menu.city, "As soon as possible", past.payment, subtotal,
                 menu.delivery_fee, subtotal + menu.delivery_fee, past.placed_at))
            conn.executemany("INSERT INTO order_lines (order_id, item, size, extras, quantity, unit_price) "
                             "VALUES (?, ?, ?, ?, ?, ?)",
                             [(cur.lastrowid, i.name, s, json.dumps(sorted(e)), q, i.unit_price(s, e))
                              for i, s, e, q in lines])
    return path


class CheckoutError(ValueError):
    """What the customer typed was refused; ``fields`` maps form fields to messages."""

    def __init__(self, fields: dict[str, str]):
        super().__init__("; ".join(fields.values()))
        self.fields = fields


class FoodDB:
    """The operations the web app performs, each one transaction on the episode's file."""

    def __init__(self, path: str | Path):
        self.path = Path(path)

    def _conn(self) -> sqlite3.Connection:
        return connect(self.path)

    # --- reading -----------------------------------------------------------------------------
    def restaurant(self) -> dict[str, Any]:
        with closing(self._conn()) as c:
            return dict(c.execute("SELECT * FROM restaurant").fetchone())

    def items(self) -> list[dict[str, Any]]:
        with closing(self._conn()) as c:
            rows = c.execute("SELECT * FROM items ORDER BY position").fetchall()
            sizes = c.execute("SELECT * FROM sizes ORDER BY item_id, position").fetchall()
        out = [dict(r) | {"sizes": []} for r in rows]
        by_id = {r["id"]: r for r in out}
        for s in sizes:
            by_id[s["item_id"]]["sizes"].append(dict(s))
        return out

    def item(self, item_id: int) -> dict[str, Any] | None:
        with closing(self._conn()) as c:
            row = c.execute("SELECT * FROM items WHERE id = ?", (item_id,)).fetchone()
            if row is None:
                return None
            sizes = c.execute("SELECT * FROM sizes WHERE item_id = ? ORDER BY position", (item_id,)).fetchall()
            extras = c.execute("SELECT * FROM extras WHERE item_id = ? ORDER BY rowid", (item_id,)).fetchall()
        return dict(row) | {"sizes": [dict(s) for s in sizes], "extras": [dict(e) for e in extras]}

    def cart(self) -> dict[str, Any]:
        """Lines with prices, the promo and the totals, as the cart and checkout pages show them."""
        with closing(self._conn()) as c:
            rows = c.execute(
                "SELECT l.*, i.name AS item, i.base_price + COALESCE(s.price_delta, 0) AS price "
                "FROM cart_lines l JOIN items i ON i.id = l.item_id "
                "LEFT JOIN sizes s ON s.item_id = l.item_id AND s.name = l.size ORDER BY l.id").fetchall()
            extra_prices = {(e["item_id"], e["name"]): e["price"] for e in c.execute("SELECT * FROM extras")}
            code = c.execute("SELECT promo_code FROM cart").fetchone()[0]
            promo = c.execute("SELECT * FROM promos WHERE code = ?", (code,)).fetchone() if code else None
            rest = dict(c.execute("SELECT * FROM restaurant").fetchone())
        lines = []
        for r in rows:
            extras = json.loads(r["extras"])
            unit = r["price"] + sum(extra_prices[(r["item_id"], e)] for e in extras)
            label = f"{r['item']} ({r['size']})" if r["size"] else r["item"]
            lines.append(dict(r) | {"extras": extras, "unit_price": unit, "line_total": unit * r["quantity"],
                                    "label": label})
        subtotal = sum(li["line_total"] for li in lines)
        fee = rest["delivery_fee"]
        discount = 0
        if promo is not None:
            if promo["kind"] == "percent":
                discount = subtotal * promo["value"] // 100
            elif promo["kind"] == "amount":
                discount = min(subtotal, promo["value"])
            else:
                discount = fee
        return {"lines": lines, "promo": dict(promo) if promo else None, "subtotal": subtotal, "discount": discount,
                "delivery_fee": fee, "total": subtotal - discount + fee, "count": sum(li["quantity"] for li in lines),
                "min_order": rest["min_order"]}

    def orders(self) -> list[dict[str, Any]]:
        with closing(self._conn()) as c:
            rows = [dict(r) for r in c.execute("SELECT * FROM orders ORDER BY id DESC")]
            for r in rows:
                r["lines"] = [dict(li) | {"extras": json.loads(li["extras"])} for li in c.execute(
                    "SELECT * FROM order_lines WHERE order_id = ? ORDER BY id", (r["id"],))]
                pay = c.execute("SELECT * FROM payments WHERE order_id = ? ORDER BY id DESC",
                                (r["id"],)).fetchone()
                r["payment"] = dict(pay) if pay else None
        return rows

    def order(self, number: str) -> dict[str, Any] | None:
        return next((o for o in self.orders() if o["number"] == number), None)

    # --- the cart ----------------------------------------------------------------------------
    def add_to_cart(self, item_id: int, size: str | None, extras: list[str], quantity: int, note: str = "") -> int:
        """Add a line (or more of an identical line); returns the line id."""
        extras_json = json.dumps(sorted(set(extras)))
        with closing(self._conn()) as c, c:
            same = c.execute("SELECT id FROM cart_lines WHERE item_id = ? AND size IS ? AND extras = ? AND note = ?",
                             (item_id, size, extras_json, note)).fetchone()
            if same:
                c.execute("UPDATE cart_lines SET quantity = quantity + ? WHERE id = ?", (quantity, same["id"]))
                return same["id"]
            return c.execute("INSERT INTO cart_lines (item_id, size, extras, quantity, note) VALUES (?, ?, ?, ?, ?)",
                             (item_id, size, extras_json, quantity, note)).lastrowid

    def set_quantity(self, line_id: int, quantity: int) -> bool:
        with closing(self._conn()) as c, c:
            if quantity <= 0:
                return c.execute("DELETE FROM cart_lines WHERE id = ?", (line_id,)).rowcount == 1
            return c.execute("UPDATE cart_lines SET quantity = ? WHERE id = ?", (quantity, line_id)).rowcount == 1

    def remove_line(self, line_id: int) -> bool:
        return self.set_quantity(line_id, 0)

    def apply_promo(self, code: str) -> str:
        """Attach a promo code to the cart; raises CheckoutError with the reason it is refused."""
        code = code.strip()
        with closing(self._conn()) as c:
            promo = c.execute("SELECT * FROM promos WHERE code = ?", (code,)).fetchone()
        if not code:
            raise CheckoutError({"promo": "Enter a promo code."})
        if promo is None:
            raise CheckoutError({"promo": f"The code {code.upper()} does not exist."})
        if promo["expired"]:
            raise CheckoutError({"promo": f"The code {promo['code']} has expired."})
        subtotal = self.cart()["subtotal"]
        if subtotal < promo["min_subtotal"]:
            raise CheckoutError({"promo": f"The code {promo['code']} needs a subtotal of at least "
                                          f"${promo['min_subtotal'] / 100:.2f}."})
        with closing(self._conn()) as c, c:
            c.execute("UPDATE cart SET promo_code = ?", (promo["code"],))
        return promo["code"]

    def remove_promo(self) -> None:
        with closing(self._conn()) as c, c:
            c.execute("UPDATE cart SET promo_code = NULL")

    def reorder(self, number: str) -> int:
        """Put an earlier order's lines back in the cart; returns how many lines were added."""
        order = self.order(number)
        if order is None:
            raise KeyError(number)
        with closing(self._conn()) as c:
            ids = {r["name"]: (r["id"], r["in_stock"]) for r in c.execute("SELECT id, name, in_stock FROM items")}
        missing = [li["item"] for li in order["lines"] if not ids.get(li["item"], (0, 0))[1]]
        if missing:
            raise CheckoutError({"reorder": f"Sorry, {', '.join(missing)} is sold out today."})
        for li in order["lines"]:
            self.add_to_cart(ids[li["item"]][0], li["size"], li["extras"], li["quantity"], li["note"])
        return len(order["lines"])

    def cancel(self, number: str) -> None:
        order = self.order(number)
        if order is None:
            raise KeyError(number)
        if order["status"] != "preparing":
            raise CheckoutError({"cancel": f"Order {number} is {order['status']} and can no longer be cancelled."})
        with closing(self._conn()) as c, c:
            c.execute("UPDATE orders SET status = 'cancelled' WHERE number = ?", (number,))
            c.execute("UPDATE payments SET status = CASE status WHEN 'approved' THEN 'refunded' ELSE 'void' END "
                      "WHERE order_id = ?", (order["id"],))

    # --- placing the order -------------------------------------------------------------------
    def place_order(self, form: dict[str, str], now: str) -> str:
        """Validate the checkout form against the cart, record the order, its lines and its
        payment, empty the cart; returns the order number. A declined card is recorded as a
        declined payment (and raises), as a payment provider would."""
        from lamforge.envs.food.payment import validate_checkout

        cart = self.cart()
        clean = validate_checkout(form, cart)  # raises CheckoutError
        tip = cart["subtotal"] * TIPS[clean["tip"]] // 100
        total = cart["total"] + tip
        with closing(self._conn()) as c, c:
            if clean["payment"] == "card" and clean["declined"]:
                c.execute("INSERT INTO payments (method, card_last4, card_name, amount, status) "
                          "VALUES ('card', ?, ?, ?, 'declined')", (clean["card_last4"], clean["card_name"], total))
            else:
                last = c.execute("SELECT MAX(CAST(SUBSTR(number, 3) AS INTEGER)) FROM orders").fetchone()[0] or 1000
                number = f"F-{last + 1}"
                cur = c.execute(
                    "INSERT INTO orders (number, status, street, city, delivery_time, instructions, payment_method,"
                    " promo_code, subtotal, discount, delivery_fee, tip, total, placed_at)"
                    " VALUES (?, 'preparing', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (number, clean["street"], clean["city"], clean["delivery_time"], clean["instructions"],
                     clean["payment"], cart["promo"]["code"] if cart["promo"] else None, cart["subtotal"],
                     cart["discount"], cart["delivery_fee"], tip, total, now))
                c.executemany("INSERT INTO order_lines (order_id, item, size, extras, quantity, unit_price, note)"
                              " VALUES (?, ?, ?, ?, ?, ?, ?)",
                              [(cur.lastrowid, li["item"], li["size"], json.dumps(li["extras"]), li["quantity"],
                                li["unit_price"], li["note"]) for li in cart["lines"]])
                c.execute("INSERT INTO payments (order_id, method, card_last4, card_name, amount, status) "
                          "VALUES (?, ?, ?, ?, ?, ?)", (cur.lastrowid, clean["payment"], clean.get("card_last4"),
                                                        clean.get("card_name"), total,
                                                        "approved" if clean["payment"] == "card" else "due"))
                c.execute("DELETE FROM cart_lines")
                c.execute("UPDATE cart SET promo_code = NULL")
                return number
        raise CheckoutError({"card_number": "Your card was declined. Use another card or pay on delivery."})


def snapshot(path: str | Path) -> dict[str, Any]:
    """What the task checks read: the orders placed in this episode, the seeded ones, the cart, and
    the payment attempts (read straight from the database file)."""
    db = FoodDB(path)
    orders = db.orders()
    with closing(db._conn()) as c:
        payments = [dict(r) for r in c.execute("SELECT * FROM payments ORDER BY id")]
    cart = db.cart()
    return {
        "new_orders": [o for o in orders if not o["seeded"]],
        "seeded_orders": [o for o in orders if o["seeded"]],
        "cart": [{"item": li["item"], "size": li["size"], "extras": li["extras"], "quantity": li["quantity"],
                  "note": li["note"]} for li in cart["lines"]],
        "promo": cart["promo"]["code"] if cart["promo"] else None,
        "payments": payments,
    }
