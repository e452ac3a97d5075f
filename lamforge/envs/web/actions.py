"""The web actions, declared once (prompt text, tool schema, executable call), and the object that
carries them out on a live Playwright page.

    click(control=12)
    fill(control=13, text="Alice")
    select_option(control=14, option="Blue")
    hover(control=15)
    type_text(text="ls")
    press_key(key="Enter")
    scroll(control=12, direction="down")
    go_back()

Every failure the model can fix comes back as an :class:`ActionError` (the environment turns it into
``last_action_error``): a label that is not on the page (never was, or the element is gone), an
element that is hidden or disabled, a field that takes no text, an option that does not exist, a
key Playwright does not know, a navigation that pulled the page away mid-action, a timeout.
"""

from __future__ import annotations

from lamforge.core.actions import ActionSet, ActionSpec, Param
from lamforge.core.errors import (
    ActionError,
    ActionNotApplicable,
    BadArguments,
    UnknownControl,
)
from lamforge.envs.web import dom

TEXT_TYPES = ("textbox", "searchbox", "combobox", "spinbutton")

WEB_ACTIONS = ActionSet([
    ActionSpec(name="click", kind="gui", targets_control=True,
               description="Click an element (button, link, checkbox, tab, text, shape)."),
    ActionSpec(name="fill", kind="gui", targets_control=True, control_types=TEXT_TYPES,
               description="Replace the text of a text field with the given text.",
               params=[Param(name="text", description="The text to type.")]),
    ActionSpec(name="select_option", kind="gui", targets_control=True, control_types=("combobox", "listbox"),
               description="Choose an option of a drop-down list by its text.",
               params=[Param(name="option", description="The option's text.")]),
    ActionSpec(name="hover", kind="gui", targets_control=True,
               description="Move the mouse over an element (opens menus and tooltips)."),
    ActionSpec(name="type_text", kind="gui",
               description="Type text key by key into the focused element (for fields that react to typing).",
               params=[Param(name="text", description="The text to type.")]),
    ActionSpec(name="press_key", kind="gui",
               description="Press a key or combination on the focused element, e.g. Enter, Tab, Control+A.",
               params=[Param(name="key", description="Key name as Playwright spells it.")]),
    ActionSpec(name="scroll", kind="gui", targets_control=True,
               description="Scroll the box holding an element (or the page) up or down.",
               params=[Param(name="direction", enum=["up", "down"], description="up or down.")]),
    ActionSpec(name="go_back", kind="gui", description="Go back to the previous page."),
])

ACTION_TIMEOUT_MS = 1500
# menus and suggestion lists (jQuery UI's among them) open ~300 ms after the pointer or the keys
SLOW_WIDGET_MS = 400


class PageActions:
    """The executable side of :data:`WEB_ACTIONS` on one page (``ActionSet.execute`` calls these)."""

    def __init__(self, page, settle_ms: int = 30):
        self.page = page
        self.settle_ms = settle_ms

    # --- the actions -------------------------------------------------------------------------
    def click(self, control: int) -> None:
        self._guarded(control, "click", lambda loc: loc.click(timeout=ACTION_TIMEOUT_MS))

    def fill(self, control: int, text: str) -> None:
        info = self._info(control)
        if not info["editable"]:
            raise ActionNotApplicable(f"[{control}] is a {info['tag']} element, not a text field: fill needs a textbox")
        if info["readonly"]:
            raise ActionNotApplicable(f"[{control}] is read-only: click it and pick the value instead")
        self._guarded(control, "fill", lambda loc: loc.fill(text, timeout=ACTION_TIMEOUT_MS), info)

    def select_option(self, control: int, option: str) -> None:
        info = self._info(control)
        if not info["select"]:
            raise ActionNotApplicable(f"[{control}] is not a drop-down list; click it instead")
        match = next((o for o in info["options"] if o == option), None) or next(
            (o for o in info["options"] if o.lower() == option.strip().lower()), None)
        if match is None:
            raise BadArguments(f"[{control}] has no option {option!r}; options: {info['options']}")
        # in a multiple-choice list, choosing adds to what is chosen (as ctrl+click does)
        labels = list(dict.fromkeys([*info["selected"], match])) if info["multiple"] else match
        self._guarded(control, "select_option",
                      lambda loc: loc.select_option(label=labels, timeout=ACTION_TIMEOUT_MS), info)

    def hover(self, control: int) -> None:
        self._guarded(control, "hover", lambda loc: loc.hover(timeout=ACTION_TIMEOUT_MS))
        self.page.wait_for_timeout(SLOW_WIDGET_MS)

    def type_text(self, text: str) -> None:
        from playwright.sync_api import Error

        try:
            self.page.keyboard.type(text)
        except Error as e:
            raise ActionError(_explain(e, "type_text", None)) from None
        self._settle()
        self.page.wait_for_timeout(SLOW_WIDGET_MS)

    def press_key(self, key: str) -> None:
        from playwright.sync_api import Error

        try:
            self.page.keyboard.press(key)
        except Error as e:
            if "Unknown key" in str(e):
                raise BadArguments(f"unknown key {key!r}; use names like Enter, Tab, Backspace, ArrowDown, "
                                   "Control+A") from None
            raise ActionError(_explain(e, "press_key", None)) from None
        self._settle()

    def scroll(self, control: int, direction: str) -> None:
        self._info(control)
        self._evaluate(dom.SCROLL_JS, [control, 1 if direction == "down" else -1])
        self._settle()

    def go_back(self) -> None:
        from playwright.sync_api import Error

        before = self.page.url
        try:
            self.page.go_back(timeout=5000)
            if self.page.url == "about:blank":  # behind the episode's first page: nothing to go back to
                self.page.go_forward(timeout=5000)
                raise ActionNotApplicable("there is no previous page to go back to")
        except Error as e:
            raise ActionError(_explain(e, "go_back", None)) from None
        if self.page.url == before and self.page.evaluate("history.length") <= 1:
            raise ActionNotApplicable("there is no previous page to go back to")
        self._settle()

    # --- helpers -----------------------------------------------------------------------------
    def _info(self, control: int) -> dict:
        info = self._evaluate(dom.INFO_JS, control)
        if info is None:
            raise UnknownControl(f"no element [{control}] on the page (it is gone or never existed); "
                                 "use a label from the current list")
        if not info["visible"]:
            raise ActionNotApplicable(f"[{control}] is not visible now")
        if info["disabled"]:
            raise ActionNotApplicable(f"[{control}] is disabled")
        return info

    def _guarded(self, control: int, what: str, act, info: dict | None = None) -> None:
        from playwright.sync_api import Error

        if info is None:
            self._info(control)
        token = self._evaluate("() => (window.__lfDoc = Math.random().toString(36).slice(2))", None)
        try:
            act(self.page.locator(f'[{dom.ATTR}="{control}"]').first)
        except Error as e:
            raise ActionError(_explain(e, what, control)) from None
        self._settle()
        # a click may navigate (that is what links do); typing or choosing into a page that went away
        # mid-action did nothing the agent wanted, so it must hear about it
        if what not in ("click", "hover") and self._document_token() != token:
            raise ActionError(f"the page navigated away while {what} ran on [{control}]; nothing was "
                              "entered; look at the new page")

    def _document_token(self) -> str | None:
        from playwright.sync_api import Error

        try:
            return self.page.evaluate("() => window.__lfDoc || null")
        except Error:
            return None

    def _evaluate(self, script: str, arg):
        from playwright.sync_api import Error

        try:
            return self.page.evaluate(script, arg)
        except Error as e:
            raise ActionError(_explain(e, "the action", None)) from None

    def _settle(self) -> None:
        """Let the page react (event handlers, a navigation the action started) before observing."""
        from playwright.sync_api import Error

        try:
            self.page.wait_for_load_state("domcontentloaded", timeout=5000)
            if self.settle_ms:
                self.page.wait_for_timeout(self.settle_ms)
        except Error:
            pass  # the page is mid-navigation; the next observation waits again


def _explain(e: Exception, what: str, control: int | None) -> str:
    """A Playwright failure in words the model can act on."""
    msg = str(e).split("\n")[0]
    target = f"[{control}]" if control is not None else "the page"
    low = msg.lower()
    if "timeout" in low:
        return (f"{what} on {target} timed out after {ACTION_TIMEOUT_MS / 1000:.1f} s: the element is covered, "
                "moving or not ready")
    if "navigat" in low or "execution context was destroyed" in low or "frame was detached" in low:
        return f"the page navigated away while {what} ran on {target}; look at the new page"
    if "not attached" in low or "detached" in low:
        return f"{target} went away from the page during {what}"
    if "closed" in low:
        return f"the page was closed during {what}"
    return f"{what} on {target} failed: {msg}"
