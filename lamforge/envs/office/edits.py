"""The Office application's edits of the document itself (tables, find and replace, clipboard, typing)
and its file operations (Save As, Export PDF): the part of :class:`~lamforge.envs.office.app.OfficeApp`
that changes the .docx or writes files, apart from the screen it shows.

    lamforge run --env office --agent expert --task export_pdf
"""

from __future__ import annotations

import shutil
import subprocess
from copy import deepcopy
from dataclasses import dataclass

from lamforge.core.errors import ActionNotApplicable, BadArguments
from lamforge.envs.office import document as D


@dataclass
class Selection:
    kind: str = "none"  # none | text | paragraph | table | cell | comment
    para: int | None = None
    start: int = 0
    end: int = 0
    table: int | None = None
    row: int = 0
    col: int = 0
    comment: int | None = None


def libreoffice() -> str | None:
    return shutil.which("soffice") or shutil.which("libreoffice")


class DocumentEdits:
    """Mixed into OfficeApp: reads ``self.doc``, ``self.path``, ``self.workspace``, ``self.selection``
    and the clipboard, and saves through ``self._save``."""

    def _insert_table(self, rows: int, cols: int) -> None:
        if not (1 <= rows <= 50 and 1 <= cols <= 20):
            raise BadArguments(f"a table needs 1-50 rows and 1-20 columns, got {rows}x{cols}")
        anchor = self.doc.paragraphs[self.sel.para] if self.sel.kind in ("text", "paragraph") else None
        D.insert_table_after(self.doc, anchor, rows, cols)
        self._save()

    def _replace_all(self, find: str, replace: str) -> None:
        if not find:
            raise ActionNotApplicable("type the text to find first")
        paragraphs = list(self.doc.paragraphs) + [
            p for t in self.doc.tables for row in t.rows for c in row.cells for p in c.paragraphs]
        count = 0
        for p in paragraphs:
            starts, k = [], p.text.find(find)
            while k >= 0:
                starts.append(k)
                k = p.text.find(find, k + len(find))
            for k in reversed(starts):  # right to left keeps earlier offsets valid
                runs = D.isolate(p, k, k + len(find))
                runs[0].text = replace
                for r in runs[1:]:
                    r.text = ""
                count += 1
        if count == 0:
            raise ActionNotApplicable(f"{find!r} was not found")
        self.sel = Selection()

    def _save_as(self, file_name: str) -> None:
        name = _valid_file_name(file_name)
        if not name.lower().endswith(".docx"):
            name += ".docx"
        old, self.path = self.path, self.workspace / name
        try:
            self._save()
        except OSError as e:  # the file system refused the name: the document stays where it was
            self.path = old
            raise BadArguments(f"cannot save as {file_name!r}: {e.strerror}") from None

    def _export_pdf(self, file_name: str) -> None:
        office = libreoffice()
        if office is None:
            raise ActionNotApplicable("Export PDF needs LibreOffice, which is not installed")
        name = _valid_file_name(file_name) if file_name.strip() else self.path.stem + ".pdf"
        self._save()
        outdir = self.workspace / ".pdf"
        # a profile of its own: LibreOffice instances sharing one hand their job to each other, and
        # episodes run side by side (worker processes, lock-step threads)
        profile = (self.workspace / ".pdf-profile").resolve().as_uri()
        subprocess.run([office, f"-env:UserInstallation={profile}", "--headless", "--convert-to", "pdf",
                        "--outdir", str(outdir), str(self.path)], check=True, capture_output=True, timeout=120)
        produced = outdir / (self.path.stem + ".pdf")
        produced.replace(self.workspace / (name if name.lower().endswith(".pdf") else name + ".pdf"))

    def _copy(self, cut: bool) -> None:
        s = self.sel
        if s.kind == "paragraph":
            p = self.doc.paragraphs[s.para]
            self.clipboard = deepcopy(p._p)
            if cut:
                D.delete_paragraph(p)
                self.sel = Selection()
        elif s.kind == "text":
            self.clipboard = self.doc.paragraphs[s.para].text[s.start:s.end]
            if cut:
                self._type_text("")
        else:
            raise ActionNotApplicable("select text or a paragraph first")
        self._save()

    def _paste(self) -> None:
        if self.clipboard is None:
            raise ActionNotApplicable("the clipboard is empty")
        if isinstance(self.clipboard, str):
            return self._type_text(self.clipboard)
        p = self._cursor_paragraph()
        p._p.addnext(deepcopy(self.clipboard))
        self.sel = Selection("paragraph", para=self.sel.para + 1)
        self._save()

    def _delete_selection(self) -> None:
        s = self.sel
        if s.kind == "paragraph":
            D.delete_paragraph(self.doc.paragraphs[s.para])
        elif s.kind == "text":
            return self._type_text("")
        elif s.kind == "comment":
            D.delete_comment(self.doc, s.comment)
        elif s.kind == "cell":
            self.doc.tables[s.table].cell(s.row, s.col).text = ""
        else:
            raise ActionNotApplicable("select something to delete first")
        self.sel = Selection()
        self._save()

    def _type_text(self, text: str) -> None:
        if self.dialog:
            if self.focus is None:
                raise ActionNotApplicable("click a field of the dialog first")
            kept = "" if self._field_selected else self.fields.get(self.focus, "")
            self.fields[self.focus], self._field_selected = kept + text, False
            return
        s = self.sel
        if s.kind == "text":
            runs = D.isolate(self.doc.paragraphs[s.para], s.start, s.end)
            runs[0].text = text
            for r in runs[1:]:
                r.text = ""
            self.sel = Selection("paragraph", para=s.para) if text == "" else Selection(
                "text", para=s.para, start=s.start, end=s.start + len(text))
        elif s.kind == "paragraph":
            p = self.doc.paragraphs[s.para]
            (D.runs_of(p)[-1] if D.runs_of(p) else p.add_run()).text += text
        elif s.kind == "cell":
            cell = self.doc.tables[s.table].cell(s.row, s.col)
            cell.text = cell.text + text
        else:
            raise ActionNotApplicable("click where to type first")
        self._save()


def _valid_file_name(file_name: str) -> str:
    """A plain file name in the workspace: no folders, no hidden files, no control characters, and
    short enough for every file system (model output can be anything)."""
    name = file_name.strip()
    if (not name or "/" in name or "\\" in name or name.startswith(".") or len(name.encode()) > 120
            or any(ord(c) < 32 for c in name)):
        raise BadArguments(f"not a valid file name: {file_name[:60]!r}")
    return name
