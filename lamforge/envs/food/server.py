"""The site's loopback server: uvicorn in a daemon thread on 127.0.0.1, on a port the OS picks, with
one SQLite file per episode in a private folder.

    server = FoodServer()
    server.new_episode(menu, cart=[("Margherita", "Large", ("Olives",), 1)])
    server.url("/cart")     # 'http://127.0.0.1:41234/cart'
    server.close()          # stops uvicorn, frees the port, removes the folder
"""

from __future__ import annotations

import shutil
import socket
import sys
import tempfile
import threading
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Self

import uvicorn

from lamforge.envs.food import db
from lamforge.envs.food.app import create_app
from lamforge.envs.food.menu import Menu


class FoodServer:
    def __init__(self, workdir: str | None = None, start_timeout: float = 10.0):
        self.root = Path(tempfile.mkdtemp(prefix="lamforge-food-", dir=workdir))
        self.db_path: Path | None = None
        self._episode = 0
        # bind first, so the port is known (and ours) before uvicorn starts serving on the socket
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", 0))
        self.port = self._sock.getsockname()[1]
        config = uvicorn.Config(create_app(self), log_level="warning", access_log=False, lifespan="off")
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [self._sock]},
                                        name=f"food-site:{self.port}", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + start_timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.close()
                raise RuntimeError(f"the food site did not start on 127.0.0.1:{self.port}")
            time.sleep(0.01)

    def url(self, path: str = "/") -> str:
        return f"http://127.0.0.1:{self.port}/{path.lstrip('/')}"

    def new_episode(self, menu: Menu, cart: Iterable[db.CartLine] = (), promo: str | None = None) -> Path:
        """A fresh database for the next episode; the previous episode's file is removed."""
        self._episode += 1
        path = db.create(self.root / f"episode-{self._episode}.sqlite", menu, cart, promo)
        old, self.db_path = self.db_path, path
        if old is not None:
            old.unlink(missing_ok=True)
        return path

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def close(self) -> None:
        self._server.should_exit = True
        # at interpreter exit the daemon thread is frozen: joining it would wait forever
        if self._thread.is_alive() and not sys.is_finalizing():
            self._thread.join(timeout=5)
        self._sock.close()
        shutil.rmtree(self.root, ignore_errors=True)
        self.db_path = None

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
