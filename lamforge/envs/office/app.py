"""The Office application: a Word-style editor over one real .docx file.

Its public methods are the actions of :data:`OFFICE_ACTIONS` (same names, same parameters); every
action that changes the document saves it to disk at once, so the file on disk is always the truth
the task checks read.

Controls carry numeric labels that stay with the same control for the whole episode (assigned in
first-seen order), so a label the model read a step ago still means the same thing, and a label of
a dialog that has closed is reported as such instead of silently hitting something else.

The class is split along its seams: what the screen shows (:mod:`lamforge.envs.office.view`), the
edits of the document and its files (:mod:`lamforge.envs.office.edits`), and here the actions and
the ribbon and dialogs they drive.

    lamforge run --env office --agent expert --task bold_text
"""

from __future__ import annotations

import io
from copy import deepcopy
from pathlib import Path

from docx.enum.section import WD_ORIENT
from docx.shared import Inches, Pt

from lamforge.core.errors import ActionNotApplicable, BadArguments, UnknownControl
from lamforge.envs.office import document as D
from lamforge.envs.office.edits import DocumentEdits, Selection
from lamforge.envs.office.ui import (
    ALIGNMENTS, COLUMNS, DIALOGS, HIGHLIGHTS, MARGINS, OPENS_DIALOG, RIBBON, SHORTCUTS, tab_of,
)
from lamforge.envs.office.view import LIST_STYLES, ScreenView



class OfficeApp(ScreenView, DocumentEdits):
    def __init__(self, path: Path):
        self.path = Path(path)
        self.workspace = self.path.parent
        self.doc = D.load(self.path)
        self.tab = "Home"
        self.dialog: str | None = None
        self.fields: dict[str, str] = {}
        self.focus: str | None = None
        self._field_selected = False  # a field's text is selected when it gets focus, as in real dialogs
        self.sel = Selection()
        self.expanded_table: int | None = None
        self.clipboard: object | None = None
        self._labels: dict[str, int] = {}  # control key -> label, stable for the episode
        self._keys: dict[int, str] = {}
        self._visible: set[str] = set()

    # ==================================================================== state cloning =====
    def snapshot(self) -> dict:
        """Everything needed to come back to this exact state: the document bytes and the UI."""
        buf = io.BytesIO()
        self.doc.save(buf)
        ui = {k: deepcopy(v) for k, v in vars(self).items() if k != "doc"}
        return {"docx": buf.getvalue(), "ui": ui}

    def restore(self, snap: dict) -> None:
        for k, v in snap["ui"].items():
            setattr(self, k, deepcopy(v))
        self.doc = D.load(io.BytesIO(snap["docx"]))
        self._save()  # the file on disk is the truth the checks read

    # ======================================================================= GUI actions =====
    def click(self, control: int) -> None:
        key = self._resolve(control)
        kind, _, rest = key.partition(":")
        if kind == "tab":
            self.tab = rest
        elif kind == "ribbon":
            widget = rest.split(":", 1)[1]
            if _widget(widget).type == "Button":
                self._press(widget)
            # clicking a drop-down just opens it; its options are already in the observation
        elif kind == "dlg":
            name = rest.split(":", 1)[1]
            if name in DIALOGS[self.dialog].buttons:
                self._dialog_button(name)
            else:
                self.focus, self._field_selected = name, True
        elif kind == "para":
            self.sel = Selection("paragraph", para=int(rest) - 1)
        elif kind == "table":
            self.expanded_table = int(rest)
            self.sel = Selection("table", table=int(rest) - 1)
        elif kind == "cell":
            t, r, c = (int(x) - 1 for x in rest.split(":"))
            self.sel = Selection("cell", table=t, row=r, col=c)
        elif kind == "comment":
            self.sel = Selection("comment", comment=int(rest))

    def set_text(self, control: int, text: str) -> None:
        key = self._resolve(control)
        kind, _, rest = key.partition(":")
        if kind == "dlg" and rest.split(":", 1)[1] in DIALOGS[self.dialog].fields:
            self.fields[rest.split(":", 1)[1]] = text
        elif kind == "cell":
            t, r, c = (int(x) - 1 for x in rest.split(":"))
            self.doc.tables[t].cell(r, c).text = text
            self.sel = Selection("cell", table=t, row=r, col=c)
            self._save()
        elif kind == "para":
            p = self.doc.paragraphs[int(rest) - 1]
            runs = D.runs_of(p)
            if not runs:
                p.add_run(text)
            else:
                runs[0].text = text
                for run in runs[1:]:
                    run.text = ""
            self._save()
        else:
            raise ActionNotApplicable(f"control {control} ({self._name(key)}) does not take text")

    def select_option(self, control: int, option: str) -> None:
        key = self._resolve(control)
        if not key.startswith("ribbon:") or _widget(key.rsplit(":", 1)[1]).type != "ComboBox":
            raise ActionNotApplicable(f"control {control} ({self._name(key)}) is not a drop-down")
        widget = _widget(key.rsplit(":", 1)[1])
        match = next((o for o in widget.options if o.lower() == str(option).strip().lower()), None)
        if match is None:
            raise BadArguments(f"'{widget.name}' has no option {option!r}; options: {', '.join(widget.options)}")
        self._choose(widget.name, match)

    def type_keys(self, keys: str) -> None:
        command = SHORTCUTS.get(keys.strip().lower())
        if command is None:
            self._type_text(keys)
        elif command in ("bold", "italic", "underline"):
            self._press(command.capitalize())
        elif command == "save":
            self._save()
        elif command in ("cut", "copy"):
            self._copy(cut=command == "cut")
        elif command == "paste":
            self._paste()
        elif command == "delete":
            self._delete_selection()
        elif command == "escape":
            self._close_dialog()
        elif command == "enter":
            if not self.dialog:
                raise ActionNotApplicable("Enter does nothing here: no dialog is open")
            self._dialog_button(DIALOGS[self.dialog].default_button)

    def drag_select(self, control: int, text: str) -> None:
        key = self._resolve(control)
        kind, _, rest = key.partition(":")
        if kind == "para":
            i = int(rest) - 1
            k = self.doc.paragraphs[i].text.find(text)
            if not text or k < 0:
                raise ActionNotApplicable(f"{text!r} is not in Paragraph {i + 1}")
            self.sel = Selection("text", para=i, start=k, end=k + len(text))
        elif kind == "cell":
            t, r, c = (int(x) - 1 for x in rest.split(":"))
            if text not in self.doc.tables[t].cell(r, c).text:
                raise ActionNotApplicable(f"{text!r} is not in that cell")
            self.sel = Selection("cell", table=t, row=r, col=c)
        else:
            raise ActionNotApplicable(f"control {control} ({self._name(key)}) holds no text to select")

    # ======================================================================= API actions =====
    def select_text(self, text: str) -> None:
        self._no_dialog()
        hit = D.find_text(self.doc, text)
        if hit is None:
            raise ActionNotApplicable(f"{text!r} is not in the document")
        self.sel = Selection("text", para=hit[0], start=hit[1], end=hit[1] + len(text))

    def select_paragraph(self, index: int) -> None:
        self._no_dialog()
        if not 1 <= index <= len(self.doc.paragraphs):
            raise BadArguments(f"paragraph index must be 1..{len(self.doc.paragraphs)}, got {index}")
        self.sel = Selection("paragraph", para=index - 1)

    def insert_table(self, rows: int, columns: int) -> None:
        self._no_dialog()
        self._insert_table(rows, columns)

    def set_font(self, font_name: str | None = None, font_size: float | None = None) -> None:
        self._no_dialog()
        if font_name is None and font_size is None:
            raise BadArguments("set_font needs font_name, font_size or both")
        if font_size is not None and not 1 <= font_size <= 400:
            raise BadArguments(f"font_size must be 1..400 points, got {font_size}")
        for run in self._selected_runs():
            if font_name is not None:
                run.font.name = font_name
            if font_size is not None:
                run.font.size = Pt(font_size)
        self._save()

    def save_as(self, file_name: str) -> None:
        self._no_dialog()
        self._save_as(file_name)

    # ========================================================================= internals =====
    def _resolve(self, label: int) -> str:
        key = self._keys.get(label)
        if key is None:
            raise UnknownControl(f"no control has label {label}")
        if key in self._visible:
            return key
        name = self._name(key)
        if key.startswith("dlg:"):
            raise UnknownControl(f"control {label} ('{name}') belongs to the dialog "
                                 f"'{key.split(':')[1]}', which is not open")
        if self.dialog:
            raise UnknownControl(f"control {label} ('{name}') is behind the open dialog "
                                 f"'{self.dialog}'; finish it with its buttons first")
        if key.startswith("ribbon:"):
            raise UnknownControl(f"control {label} ('{name}') is on the {key.split(':')[1]} tab, "
                                 f"which is not selected")
        raise UnknownControl(f"control {label} ('{name}') no longer exists")

    def _name(self, key: str) -> str:
        kind, _, rest = key.partition(":")
        if kind == "para":
            return f"Paragraph {rest}"
        if kind == "table":
            return f"Table {rest}"
        if kind == "cell":
            t, r, c = rest.split(":")
            return f"Table {t} R{r}C{c}"
        if kind == "comment":
            return f"comment {rest}"
        return key.rsplit(":", 1)[-1]

    def _no_dialog(self) -> None:
        if self.dialog:
            raise ActionNotApplicable(f"the dialog '{self.dialog}' is open; finish it with its buttons first")

    def _save(self) -> None:
        self.doc.save(str(self.path))

    def _selected_paragraphs(self):
        s = self.sel
        if s.kind in ("text", "paragraph"):
            return [self.doc.paragraphs[s.para]]
        if s.kind == "cell":
            return self.doc.tables[s.table].cell(s.row, s.col).paragraphs
        if s.kind == "table":
            return [p for row in self.doc.tables[s.table].rows for c in row.cells for p in c.paragraphs]
        raise ActionNotApplicable("select text or a paragraph first")

    def _selected_runs(self):
        s = self.sel
        if s.kind == "text":
            return D.isolate(self.doc.paragraphs[s.para], s.start, s.end)
        runs = [r for p in self._selected_paragraphs() for r in D.runs_of(p)]
        if not runs:
            raise ActionNotApplicable("the selection holds no text to format")
        return runs

    def _cursor_paragraph(self):
        s = self.sel
        if s.kind in ("text", "paragraph"):
            return self.doc.paragraphs[s.para]
        raise ActionNotApplicable("click the paragraph after which to insert first")

    def _press(self, widget: str) -> None:
        if widget in OPENS_DIALOG:
            return self._open_dialog(OPENS_DIALOG[widget])
        if widget in ("Bold", "Italic", "Underline", "Strikethrough"):
            attr = "strike" if widget == "Strikethrough" else widget.lower()
            runs = self._selected_runs()
            on = not all(getattr(r.font, attr) for r in runs)
            for r in runs:
                setattr(r.font, attr, on)
        elif widget in ALIGNMENTS:
            for p in self._selected_paragraphs():
                p.alignment = ALIGNMENTS[widget]
        elif widget in LIST_STYLES:
            style = LIST_STYLES[widget]
            for p in self._selected_paragraphs():
                p.style = "Normal" if p.style.name == style else style
        elif widget == "Page Break":
            p = self._cursor_paragraph()
            D.insert_page_break_after(p)
        elif widget == "Delete Comment":
            if self.sel.kind != "comment":
                raise ActionNotApplicable("click a comment first")
            D.delete_comment(self.doc, self.sel.comment)
            self.sel = Selection()
        elif widget == "Track Changes":
            D.set_track_changes(self.doc, not D.track_changes(self.doc))
        elif widget != "Save":
            raise ActionNotApplicable(f"'{widget}' does nothing here")
        self._save()

    def _choose(self, widget: str, option: str) -> None:
        if widget == "Highlight":
            for r in self._selected_runs():
                r.font.highlight_color = HIGHLIGHTS[option]
        elif widget == "Font":
            for r in self._selected_runs():
                r.font.name = option
        elif widget == "Font Size":
            for r in self._selected_runs():
                r.font.size = Pt(float(option))
        elif widget == "Line Spacing":
            for p in self._selected_paragraphs():
                p.paragraph_format.line_spacing = float(option)
        elif widget == "Styles":
            for p in self._selected_paragraphs():
                p.style = option
        elif widget == "Orientation":
            for s in self.doc.sections:
                landscape = option == "Landscape"
                if (s.page_width > s.page_height) != landscape:
                    s.page_width, s.page_height = s.page_height, s.page_width
                s.orientation = WD_ORIENT.LANDSCAPE if landscape else WD_ORIENT.PORTRAIT
        elif widget == "Margins":
            top, bottom, left, right = MARGINS[option]
            for s in self.doc.sections:
                s.top_margin, s.bottom_margin = Inches(top), Inches(bottom)
                s.left_margin, s.right_margin = Inches(left), Inches(right)
        elif widget == "Columns":
            D.set_columns(self.doc, COLUMNS[option])
        self._save()

    def _open_dialog(self, name: str) -> None:
        if name in ("New Comment", "Insert Hyperlink") and self.sel.kind != "text":
            raise ActionNotApplicable("select the text first")
        self.dialog = name
        self.fields = dict(DIALOGS[name].defaults)
        if name in ("Header", "Footer"):
            part = self.doc.sections[0].header if name == "Header" else self.doc.sections[0].footer
            self.fields[f"{name} text"] = part.paragraphs[0].text if part.paragraphs else ""
        if name in ("Save As", "Export PDF"):
            self.fields["File name"] = self.path.stem + (".pdf" if name == "Export PDF" else ".docx")
        self.focus, self._field_selected = DIALOGS[name].fields[0], True

    def _close_dialog(self) -> None:
        if not self.dialog:
            raise ActionNotApplicable("no dialog is open")
        self.dialog, self.fields, self.focus = None, {}, None

    def _dialog_button(self, button: str) -> None:
        name, f = self.dialog, self.fields
        if button == "Cancel":
            return self._close_dialog()
        if name == "Insert Table":
            self._insert_table(_int_field(f, "Rows"), _int_field(f, "Columns"))
        elif name == "Insert Picture":
            picture = self.workspace / f.get("File name", "")
            if not f.get("File name") or not picture.is_file():
                raise ActionNotApplicable(f"no picture named {f.get('File name')!r} in the folder")
            p = D.insert_paragraph_after(self._cursor_paragraph())
            p.add_run().add_picture(str(picture), width=Inches(1.5))
        elif name == "Find and Replace":
            self._replace_all(f.get("Find what", ""), f.get("Replace with", ""))
        elif name == "New Comment":
            if not f.get("Comment text"):
                raise ActionNotApplicable("type the comment text first")
            s = self.sel
            runs = D.isolate(self.doc.paragraphs[s.para], s.start, s.end)
            self.doc.add_comment(runs, text=f["Comment text"], author="You", initials="YO")
        elif name == "Insert Hyperlink":
            if not f.get("Address"):
                raise ActionNotApplicable("type the link address first")
            s = self.sel
            D.add_hyperlink(self.doc.paragraphs[s.para], s.start, s.end, f["Address"])
        elif name in ("Header", "Footer"):
            for section in self.doc.sections:
                part = section.header if name == "Header" else section.footer
                part.is_linked_to_previous = False
                part.paragraphs[0].text = f.get(f"{name} text", "")
        elif name == "Save As":
            self._save_as(f.get("File name", ""))
            return self._close_dialog()  # _save_as has written the document
        elif name == "Export PDF":
            self._export_pdf(f.get("File name", ""))
            return self._close_dialog()  # _export_pdf saved before converting
        self._close_dialog()
        self._save()

def _widget(name: str):
    tab = tab_of(name)
    return next(w for w in RIBBON[tab] if w.name == name)


def _int_field(fields: dict[str, str], name: str) -> int:
    value = fields.get(name, "").strip()
    if not value.isdigit():
        raise BadArguments(f"'{name}' must be a whole number, got {value!r}")
    return int(value)
