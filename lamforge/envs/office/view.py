"""What the Office application shows: its controls with stable numeric labels (tabs, the ribbon of the
open tab, paragraphs, tables and their cells when opened, comments, or the open dialog's fields) and
the one-line state summary, the part of :class:`~lamforge.envs.office.app.OfficeApp` that reads it.

    lamforge run --env office --agent human --task bold_text      # shows this screen each step
"""

from __future__ import annotations

from lamforge.core.errors import ActionNotApplicable
from lamforge.core.schemas import Control
from lamforge.envs.office import document as D
from lamforge.envs.office.ui import DIALOGS, RIBBON, TABS

PREVIEW = 100  # characters of a paragraph shown (template paragraphs fit whole)
LIST_STYLES = {"Bullets": "List Bullet", "Numbering": "List Number"}  # the button and the style it toggles


class ScreenView:
    """Mixed into OfficeApp: reads ``self.doc``, ``self.tab``, ``self.dialog``, ``self.fields``,
    ``self.sel``, ``self.expanded_table`` and keeps the label maps ``self._labels`` / ``self._keys``."""

    # ===================================================================== observation =====
    def observe(self) -> tuple[list[Control], str]:
        items = self._dialog_items() if self.dialog else self._main_items()
        self._visible = {key for key, *_ in items}
        controls = []
        for key, name, type_, value in items:
            if key not in self._labels:
                self._labels[key] = len(self._labels) + 1
                self._keys[self._labels[key]] = key
            options = value.split("|") if type_ == "ComboBox" and value else None
            controls.append(Control(label=self._labels[key], name=name, type=type_, value=value, options=options))
        return controls, self.summary()

    def _dialog_items(self):
        d = DIALOGS[self.dialog]
        out = [(f"dlg:{d.name}:{f}", f, "Edit", self.fields.get(f, "")) for f in d.fields]
        return out + [(f"dlg:{d.name}:{b}", b, "Button", None) for b in d.buttons]

    def _main_items(self):
        out = [(f"tab:{t}", t, "TabItem", "selected" if t == self.tab else None) for t in TABS]
        for w in RIBBON[self.tab]:
            value = "|".join(w.options) if w.options else self._toggle_state(w.name)
            out.append((f"ribbon:{self.tab}:{w.name}", w.name, w.type, value))
        for i, p in enumerate(self.doc.paragraphs, 1):
            out.append((f"para:{i}", f"Paragraph {i}", "Paragraph", _preview(p)))
        for t, table in enumerate(self.doc.tables, 1):
            out.append((f"table:{t}", f"Table {t}", "Table", f"{len(table.rows)}x{len(table.columns)}"))
            if self.expanded_table == t:
                for r, row in enumerate(table.rows, 1):
                    for c, cell in enumerate(row.cells, 1):
                        out.append((f"cell:{t}:{r}:{c}", f"Table {t} R{r}C{c}", "Cell", cell.text[:PREVIEW]))
        for n, (cid, author, text) in enumerate(D.comments(self.doc), 1):
            out.append((f"comment:{cid}", f"Comment {n}", "Comment", f"{author}: {text}"[:PREVIEW]))
        return out

    def _toggle_state(self, widget: str) -> str | None:
        """'on' for a toggle button that is on for the whole selection (so an agent need not toggle blind)."""
        if widget == "Track Changes":
            return "on" if D.track_changes(self.doc) else None
        if widget in LIST_STYLES:
            # without it, the screen after Bullets read "No change" and models pressed it again (off)
            style = LIST_STYLES[widget]
            try:
                paragraphs = self._selected_paragraphs()
            except ActionNotApplicable:
                return None
            return "on" if paragraphs and all(p.style.name == style for p in paragraphs) else None
        attr = {"Bold": "bold", "Italic": "italic", "Underline": "underline", "Strikethrough": "strike"}.get(widget)
        if attr is None or self.sel.kind not in ("text", "paragraph", "cell"):
            return None
        s = self.sel
        if s.kind == "text":
            runs = D.runs_covering(self.doc.paragraphs[s.para], s.start, s.end)
        else:
            runs = [r for p in self._selected_paragraphs() for r in D.runs_of(p) if r.text]
        return "on" if runs and all(getattr(r.font, attr) for r in runs) else None

    def summary(self) -> str:
        return (f"file {self.path.name}; tab {self.tab}; selection: {self._describe_selection()}; "
                f"dialog: {self.dialog or 'none'}")

    def _describe_selection(self) -> str:
        s = self.sel
        if s.kind == "text":
            return f"'{self.doc.paragraphs[s.para].text[s.start:s.end]}' in Paragraph {s.para + 1}"
        if s.kind == "paragraph":
            return f"Paragraph {s.para + 1}"
        if s.kind == "table":
            return f"Table {s.table + 1}"
        if s.kind == "cell":
            return f"Table {s.table + 1} R{s.row + 1}C{s.col + 1}"
        if s.kind == "comment":
            return f"comment {s.comment}"
        return "nothing"


def _preview(p) -> str:
    text = p.text
    if not text.strip():
        if D.has_page_break(p):
            return "[page break]"
        if p._p.xpath(".//w:drawing"):
            return "[picture]"
        return ""
    return text if len(text) <= PREVIEW else text[: PREVIEW - 3] + "..."
