"""Page layout, review settings and file families."""

from __future__ import annotations

from docx.enum.section import WD_ORIENT
from docx.shared import Inches

from lamforge.envs.office import document as D
from lamforge.envs.office.edits import libreoffice
from lamforge.envs.office.tasks.common import OfficeFamily, api, finish, gui, load
from lamforge.envs.office.templates import TEMPLATES


def subject(template: str) -> str:
    return TEMPLATES[template].subject
from lamforge.envs.office.ui import COLUMNS, MARGINS


class _HeaderFooter(OfficeFamily):
    part: str
    texts = ("Confidential", "Draft for review", "Page prepared by the sales team", "Internal use only",
             "Acme Ltd. 2025", "Version 2")

    def sample(self, rng):
        text, template = rng.choice(self.texts), rng.choice(self.templates)
        return self.make_task(rng, self.word(rng, text=text, doc=subject(template)), template, text=text)

    def check(self, task, state):
        section = load(state).sections[0]
        part = section.header if self.part == "Header" else section.footer
        return any(p.text == task.params["text"] for p in part.paragraphs)

    def solution(self, task):
        return finish([gui("click", "Insert"), gui("click", self.part),
                       gui("set_text", f"{self.part} text", text=task.params["text"]), gui("click", "OK")])


class HeaderText(_HeaderFooter):
    name, part = "header_text", "Header"
    description = "Put text in the page header."
    requests = ("Put '{text}' in the header of {doc}.", "Set the page header to '{text}'.",
                "Add the header text '{text}' to {doc}.", "Give {doc} the header '{text}'.")


class FooterText(_HeaderFooter):
    name, part = "footer_text", "Footer"
    description = "Put text in the page footer."
    requests = ("Put '{text}' in the footer of {doc}.", "Set the page footer to '{text}'.",
                "Add the footer text '{text}' to {doc}.", "Give {doc} the footer '{text}'.")


class Landscape(OfficeFamily):
    name = "landscape_orientation"
    description = "Turn the pages to landscape."
    requests = ("Switch the page orientation of {doc} to landscape.", "Make {doc} landscape.",
                "Turn the pages of {doc} sideways (landscape).", "Print {doc} in landscape: change the orientation.",
                "{Doc} should be in landscape orientation.")

    def sample(self, rng):
        template = rng.choice(self.templates)
        doc = subject(template)
        return self.make_task(rng, self.word(rng, doc=doc, Doc=doc[0].upper() + doc[1:]), template)

    def check(self, task, state):
        s = load(state).sections[0]
        return s.orientation == WD_ORIENT.LANDSCAPE and s.page_width > s.page_height

    def solution(self, task):
        return finish([gui("click", "Layout"), gui("select_option", "Orientation", option="Landscape")])


class SetMargins(OfficeFamily):
    name = "set_margins"
    description = "Use a margin preset."
    requests = ("Set the margins of {doc} to {value}.", "Use {value} margins for {doc}.",
                "Change the page margins of {doc} to the {value} preset.", "Give {doc} {value} margins.")

    def sample(self, rng):
        value, template = rng.choice(["Narrow", "Moderate", "Wide"]), rng.choice(self.templates)
        return self.make_task(rng, self.word(rng, value=value.lower(), doc=subject(template)), template, value=value)

    def check(self, task, state):
        s = load(state).sections[0]
        top, bottom, left, right = MARGINS[task.params["value"]]
        got = (s.top_margin, s.bottom_margin, s.left_margin, s.right_margin)
        return all(g is not None and abs(g - Inches(w)) < Inches(0.01) for g, w in zip(got, (top, bottom, left, right)))

    def solution(self, task):
        return finish([gui("click", "Layout"), gui("select_option", "Margins", option=task.params["value"])])


class TextColumns(OfficeFamily):
    name = "text_columns"
    description = "Lay the text out in two or three columns."
    requests = ("Lay the text of {doc} out in {value} columns.", "Split the pages of {doc} into {value} columns.",
                "Use a {value}-column layout for {doc}.", "Put {doc} in {value} columns.")

    def sample(self, rng):
        value, template = rng.choice(["Two", "Three"]), rng.choice(self.templates)
        return self.make_task(rng, self.word(rng, value=value.lower(), doc=subject(template)), template, value=value)

    def check(self, task, state):
        return D.columns(load(state)) == COLUMNS[task.params["value"]]

    def solution(self, task):
        return finish([gui("click", "Layout"), gui("select_option", "Columns", option=task.params["value"])])


class TrackChanges(OfficeFamily):
    name = "track_changes"
    description = "Turn on change tracking."
    requests = ("Turn on track changes in {doc}.", "Start tracking changes in {doc}.",
                "Enable Track Changes so edits to {doc} are recorded.", "Record every change made to {doc}.")

    def sample(self, rng):
        template = rng.choice(self.templates)
        return self.make_task(rng, self.word(rng, doc=subject(template)), template)

    def check(self, task, state):
        return D.track_changes(load(state))

    def solution(self, task):
        return finish([gui("click", "Review"), gui("click", "Track Changes")])


class SaveAs(OfficeFamily):
    name = "save_as"
    description = "Save the document under a new name."
    requests = ("Save {doc} as {file}.", "Save a copy of {doc} named {file}.", "Use Save As to store {doc} as {file}.")
    names = ("final_version.docx", "draft_2.docx", "for_review.docx", "archive_copy.docx", "shared.docx")

    def sample(self, rng):
        file, template = rng.choice(self.names), rng.choice(self.templates)
        return self.make_task(rng, self.word(rng, file=file, doc=subject(template)), template, file=file,
                              via=rng.choice(["gui", "api"]))

    def check(self, task, state):
        saved = state.workspace / task.params["file"]
        if not saved.is_file():
            return False
        return D.body_text(D.load(saved)) == D.body_text(D.load(state.template_path))

    def solution(self, task):
        if task.params["via"] == "api":
            return finish([api("save_as", file_name=task.params["file"])])
        return finish([gui("click", "File"), gui("click", "Save As"),
                       gui("set_text", "File name", text=task.params["file"]), gui("click", "Save")])


class ExportPdf(OfficeFamily):
    name = "export_pdf"
    description = "Export the document as PDF (needs LibreOffice)."
    requests = ("Export {doc} to PDF as {file}.", "Make a PDF of {doc} called {file}.",
                "Save a PDF version of {doc} named {file}.")

    def available(self):
        return libreoffice() is not None

    def sample(self, rng):
        file, template = rng.choice(["document.pdf", "handout.pdf", "print_version.pdf"]), rng.choice(self.templates)
        return self.make_task(rng, self.word(rng, file=file, doc=subject(template)), template, file=file)

    def check(self, task, state):
        pdf = state.workspace / task.params["file"]
        return pdf.is_file() and pdf.read_bytes()[:5] == b"%PDF-"

    def solution(self, task):
        return finish([gui("click", "File"), gui("click", "Export PDF"),
                       gui("set_text", "File name", text=task.params["file"]), gui("click", "Export")])


FAMILIES = [HeaderText(), FooterText(), Landscape(), SetMargins(), TextColumns(), TrackChanges(), SaveAs(),
            ExportPdf()]
