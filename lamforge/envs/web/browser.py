"""One headless Chromium per process, driven by Playwright's sync API, and loopback file servers.

The browser is the system's own Chromium (Debian ``chromium``; ``make chromium`` installs it):
nothing here downloads a browser, and ``playwright install`` is never needed. Name resolution is
mapped away for every host but loopback, so a page cannot reach the network either.

The browser is started on first use and shut down by :func:`shutdown` (``WebEnv.close`` calls
it when the last environment of the process closes) and at interpreter exit, so no Chromium
process outlives the Python process that started it.
"""

from __future__ import annotations

import atexit
import contextlib
import functools
import http.server
import os
import shutil
import sys
import threading
from pathlib import Path
from typing import ClassVar

from lamforge.core.errors import DependencyNotInstalled

CHROMIUM_CANDIDATES = ("/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/lib/chromium/chromium")
# Everything but loopback resolves to nothing: a task page can never fetch from the network.
LAUNCH_ARGS = ["--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1, EXCLUDE localhost",
               "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
               "--disable-extensions", "--disable-background-networking"]

_lock = threading.Lock()
_state: dict = {"playwright": None, "browser": None, "users": 0, "pid": None}


def chromium_path() -> str | None:
    """The system Chromium (``LAMFORGE_CHROMIUM`` overrides), or None when there is none."""
    env = os.environ.get("LAMFORGE_CHROMIUM")
    if env:
        return env if Path(env).is_file() else None
    for cand in CHROMIUM_CANDIDATES:
        if Path(cand).is_file():
            return cand
    found = shutil.which("chromium")
    return found


def acquire():
    """The process's browser (started if needed); pair each call with :func:`release`."""
    with _lock:
        if _state["pid"] != os.getpid():  # a forked child must not reuse its parent's browser
            _state.update(playwright=None, browser=None, users=0, pid=os.getpid())
        if _state["browser"] is None or not _state["browser"].is_connected():
            _start()
        _state["users"] += 1
        return _state["browser"]


def release() -> None:
    """One user fewer; the browser stops when none is left."""
    with _lock:
        _state["users"] = max(0, _state["users"] - 1)
        if _state["users"] == 0:
            _stop()


def shutdown() -> None:
    """Stop the browser now, whoever still uses it (interpreter exit)."""
    with _lock:
        _state["users"] = 0
        _stop()


def _start() -> None:
    exe = chromium_path()
    if exe is None:
        raise DependencyNotInstalled(
            "no Chromium found at /usr/bin/chromium: run `make chromium` (Debian packages chromium and "
            "chromium-driver) or set LAMFORGE_CHROMIUM to a Chromium binary")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as e:
        raise DependencyNotInstalled("the web environment needs playwright: pip install playwright "
                                     "(the browser itself comes from the system, not `playwright install`)") from e
    pw = sync_playwright().start()
    try:
        browser = pw.chromium.launch(executable_path=exe, headless=True, args=LAUNCH_ARGS)
    except Exception:
        pw.stop()
        raise
    _state.update(playwright=pw, browser=browser, pid=os.getpid())


def _stop() -> None:
    browser, pw = _state["browser"], _state["playwright"]
    _state.update(browser=None, playwright=None)
    from playwright.sync_api import Error

    if browser is not None:
        with contextlib.suppress(Error):  # already gone (killed, or the driver died): nothing to close
            browser.close()
    if pw is not None:
        with contextlib.suppress(Error):
            pw.stop()


@atexit.register
def _at_exit() -> None:
    if _state["pid"] == os.getpid():
        shutdown()


# --- loopback file server ------------------------------------------------------------------------

class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    # pages without a <meta charset> (MiniWoB's) would otherwise be read as Latin-1
    extensions_map: ClassVar[dict[str, str]] = {**http.server.SimpleHTTPRequestHandler.extensions_map,
                      ".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8",
                      ".css": "text/css; charset=utf-8"}

    def log_message(self, format, *args):
        pass


class StaticServer:
    """Serves a folder on 127.0.0.1 (a free port) from a daemon thread.

    >>> server = StaticServer("/path/to/site")
    >>> server.url("index.html")   # 'http://127.0.0.1:40123/index.html'
    >>> server.close()
    """

    def __init__(self, folder: str | Path):
        self.folder = Path(folder)
        if not self.folder.is_dir():
            raise FileNotFoundError(f"no folder {self.folder} to serve")
        handler = functools.partial(_QuietHandler, directory=str(self.folder))
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self._thread = threading.Thread(target=self.httpd.serve_forever, name=f"static:{self.port}", daemon=True)
        self._thread.start()

    def url(self, path: str = "") -> str:
        return f"http://127.0.0.1:{self.port}/{path.lstrip('/')}"

    def close(self) -> None:
        # at interpreter exit the daemon thread is already frozen: shutdown() would wait for it forever
        if self._thread.is_alive() and not sys.is_finalizing():
            self.httpd.shutdown()
        self.httpd.server_close()
