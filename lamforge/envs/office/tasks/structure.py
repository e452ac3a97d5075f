"""Families that change the document's structure: tables, comments, links, breaks, pictures,
replacing, deleting and moving text."""

from __future__ import annotations

from docx.oxml.ns import qn

from lamforge.envs.office import document as D
from lamforge.envs.office.tasks.common import (
    OfficeFamily, api, find_paragraph, finish, gui, load, opening, para, pick_paragraph, pick_phrase,
)
from lamforge.envs.office.templates import paragraph_texts

_NO_TABLE = ("letter", "proposal_review", "report_headings", "packing_list", "handbook")


def _next_element(p):
    return p._p.getnext() if p is not None else None


class InsertTable(OfficeFamily):
    name = "insert_table"
    description = "Insert a table of r rows and c columns after a paragraph."
    templates = _NO_TABLE
    requests = ("Insert a {rows} x {cols} table after the paragraph starting '{start}'.",
                "Add a table with {rows} rows and {cols} columns below '{start}...'.",
                "Put an empty {rows}-by-{cols} table after the paragraph '{start}...'.")

    def sample(self, rng):
        template = rng.choice(self.templates)
        i, text = pick_paragraph(rng, template)
        rows, cols = rng.randint(2, 5), rng.randint(2, 4)
        return self.make_task(rng, self.word(rng, rows=rows, cols=cols, start=opening(text)), template,
                              para=i, text=text, rows=rows, cols=cols, via=rng.choice(["gui", "api"]))

    def check(self, task, state):
        nxt = _next_element(find_paragraph(load(state), task.params["text"]))
        if nxt is None or nxt.tag != qn("w:tbl"):
            return False
        rows = nxt.findall(qn("w:tr"))
        return len(rows) == task.params["rows"] and len(rows[0].findall(qn("w:tc"))) == task.params["cols"]

    def solution(self, task):
        p = task.params
        if p["via"] == "api":
            return finish([api("select_paragraph", index=p["para"] + 1),
                           api("insert_table", rows=p["rows"], columns=p["cols"])])
        return finish([gui("click", para(p["para"])), gui("click", "Insert"), gui("click", "Table"),
                       gui("set_text", "Rows", text=str(p["rows"])), gui("set_text", "Columns", text=str(p["cols"])),
                       gui("click", "OK")])


_CELLS = {
    # template: (row labels, column labels, how a request names a cell, candidate values)
    "meeting_table": (["April 4", "April 18", "May 2"], ["Date", "Room", "Host"],
                      "the {col} of the {row} meeting", ["Red Room", "Yellow Room", "Priya", "Tom", "Lena"]),
    "sales_figures": (["North", "South", "East", "West"], ["Region", "Q1", "Q2", "Q3", "Q4"],
                      "the {col} figure for {row}", ["101", "117", "125", "142", "166", "173"]),
}


class FillTableCell(OfficeFamily):
    name = "fill_table_cell"
    description = "Change the value of a table cell."
    templates = tuple(_CELLS)
    requests = ("Change {cell} to {value}.", "In the table, set {cell} to {value}.",
                "Update the table: {cell} should be {value}.")

    def sample(self, rng):
        template = rng.choice(self.templates)
        rows, cols, phrase, values = _CELLS[template]
        r, c = rng.randrange(len(rows)), rng.randrange(1, len(cols))
        value = rng.choice(values)
        cell = phrase.format(col=cols[c], row=rows[r])
        return self.make_task(rng, self.word(rng, cell=cell, value=value), template, row=r + 2, col=c + 1,
                              value=value)

    def check(self, task, state):
        doc = load(state)
        p = task.params
        return bool(doc.tables) and doc.tables[0].cell(p["row"] - 1, p["col"] - 1).text == p["value"]

    def solution(self, task):
        p = task.params
        return finish([gui("click", "Table 1"), gui("set_text", f"Table 1 R{p['row']}C{p['col']}", text=p["value"])])


class AddComment(OfficeFamily):
    name = "add_comment"
    description = "Add a comment on a phrase."
    requests = ("Add a comment '{text}' on '{phrase}'.", "Comment on the words '{phrase}': {text}",
                "Attach the note '{text}' to the phrase '{phrase}'.")
    notes = ("Please check this.", "Is this correct?", "Needs a source.", "Rephrase this part.",
             "Confirm with the team.", "Great point.")

    def sample(self, rng):
        template = rng.choice([t for t in self.templates if t != "proposal_review"])
        i, phrase = pick_phrase(rng, template)
        text = rng.choice(self.notes)
        return self.make_task(rng, self.word(rng, phrase=phrase, text=text), template, phrase=phrase,
                              text=text, para=i)

    def check(self, task, state):
        doc = load(state)
        return any(text == task.params["text"] and task.params["phrase"] in D.comment_anchor_text(doc, cid)
                   for cid, _, text in D.comments(doc))

    def solution(self, task):
        p = task.params
        return finish([gui("drag_select", para(p["para"]), text=p["phrase"]), gui("click", "Review"),
                       gui("click", "New Comment"), gui("set_text", "Comment text", text=p["text"]),
                       gui("click", "OK")])


_REVIEW_NOTES = [  # (ordinal, author, topic, text) as in the proposal_review template
    (1, "Alice Chen", "the budget figure", "Please double-check this figure with finance."),
    (2, "Bob Martin", "the finishing date", "Is this date still realistic?"),
    (3, "Alice Chen", "the volunteers", "Add the number of volunteers we need."),
]


class DeleteComment(OfficeFamily):
    name = "delete_comment"
    description = "Delete a reviewer's comment."
    templates = ("proposal_review",)
    requests = ("Delete {author}'s comment about {topic}.", "Remove the comment by {author} on {topic}.",
                "Get rid of {author}'s note about {topic}.")

    def sample(self, rng):
        n, author, topic, text = rng.choice(_REVIEW_NOTES)
        return self.make_task(rng, self.word(rng, author=author, topic=topic), "proposal_review",
                              ordinal=n, text=text)

    def check(self, task, state):
        texts = [t for _, _, t in D.comments(load(state))]
        return task.params["text"] not in texts and len(texts) == len(_REVIEW_NOTES) - 1

    def solution(self, task):
        return finish([gui("click", f"Comment {task.params['ordinal']}"), gui("click", "Review"),
                       gui("click", "Delete Comment")])


_REPLACEMENTS = {"letter": [("parcel", "package"), ("Tuesday", "Wednesday"), ("garden", "patio")],
                 "meeting_table": [("meeting", "session"), ("office manager", "team lead")],
                 "proposal_review": [("library", "learning centre"), ("autumn", "summer")],
                 "report_headings": [("regional office", "head office"), ("twenty", "thirty")],
                 "packing_list": [("school trip", "field trip"), ("Monday", "Friday")],
                 "product_sheet": [("lamp", "light"), ("warranty", "guarantee")],
                 "sales_figures": [("euros", "dollars"), ("region", "area")],
                 "handbook": [("employee", "staff member"), ("safety officer", "first aider")]}


class FindReplace(OfficeFamily):
    name = "find_replace"
    description = "Replace every occurrence of a word or phrase."
    templates = tuple(_REPLACEMENTS)
    requests = ("Replace every '{old}' with '{new}'.", "Change all occurrences of '{old}' to '{new}'.",
                "Use Find and Replace to swap '{old}' for '{new}'.")

    def sample(self, rng):
        template = rng.choice(self.templates)
        old, new = rng.choice(_REPLACEMENTS[template])
        return self.make_task(rng, self.word(rng, old=old, new=new), template, old=old, new=new)

    def check(self, task, state):
        doc = load(state)
        text = D.body_text(doc) + "\n".join(c.text for t in doc.tables for r in t.rows for c in r.cells)
        return task.params["old"] not in text and task.params["new"] in text

    def solution(self, task):
        p = task.params
        return finish([gui("click", "Replace"), gui("set_text", "Find what", text=p["old"]),
                       gui("set_text", "Replace with", text=p["new"]), gui("click", "Replace All")])


class PageBreak(OfficeFamily):
    name = "page_break"
    description = "Start a new page after a paragraph."
    requests = ("Insert a page break after the paragraph starting '{start}'.",
                "Start a new page after '{start}...'.", "Put a page break below the paragraph '{start}...'.")

    def sample(self, rng):
        template = rng.choice(self.templates)
        i, text = pick_paragraph(rng, template)
        return self.make_task(rng, self.word(rng, start=opening(text)), template, para=i, text=text)

    def check(self, task, state):
        p = find_paragraph(load(state), task.params["text"])
        nxt = _next_element(p)
        return p is not None and nxt is not None and nxt.tag == qn("w:p") and bool(
            nxt.xpath(".//w:br[@w:type='page']"))

    def solution(self, task):
        return finish([gui("click", para(task.params["para"])), gui("click", "Insert"), gui("click", "Page Break")])


class InsertHyperlink(OfficeFamily):
    name = "insert_hyperlink"
    description = "Turn a phrase into a hyperlink."
    requests = ("Link '{phrase}' to {url}.", "Make the words '{phrase}' a hyperlink to {url}.",
                "Add a link to {url} on '{phrase}'.")
    urls = ("https://example.com/help", "https://example.org/terms", "https://intranet.local/policy",
            "https://example.com/orders")

    def sample(self, rng):
        template = rng.choice(self.templates)
        i, phrase = pick_phrase(rng, template)
        url = rng.choice(self.urls)
        return self.make_task(rng, self.word(rng, phrase=phrase, url=url), template, phrase=phrase, url=url, para=i)

    def check(self, task, state):
        doc = load(state)
        return any(h.address == task.params["url"] and h.text == task.params["phrase"]
                   for p in doc.paragraphs for h in p.hyperlinks)

    def solution(self, task):
        p = task.params
        return finish([gui("drag_select", para(p["para"]), text=p["phrase"]), gui("click", "Insert"),
                       gui("click", "Link"), gui("set_text", "Address", text=p["url"]), gui("click", "OK")])


class DeleteParagraph(OfficeFamily):
    name = "delete_paragraph"
    description = "Delete a paragraph."
    requests = ("Delete the paragraph starting '{start}'.", "Remove the paragraph '{start}...'.",
                "Take out the paragraph that begins with '{start}'.")

    def sample(self, rng):
        template = rng.choice(self.templates)
        i, text = pick_paragraph(rng, template)
        return self.make_task(rng, self.word(rng, start=opening(text)), template, para=i, text=text)

    def check(self, task, state):
        texts = [p.text for p in load(state).paragraphs]
        expected = list(paragraph_texts(task.template))
        expected.pop(task.params["para"])
        return texts == expected

    def solution(self, task):
        return finish([gui("click", para(task.params["para"])), api("type_keys", keys="delete")])


class MoveParagraph(OfficeFamily):
    name = "move_paragraph"
    description = "Move a paragraph so it follows another one."
    requests = ("Move the paragraph starting '{start}' so it comes after '{after}...'.",
                "Put the paragraph '{start}...' below the paragraph '{after}...'.",
                "Cut '{start}...' and paste it after '{after}...'.")

    def sample(self, rng):
        template = rng.choice(self.templates)
        for _ in range(50):
            i, text = pick_paragraph(rng, template)
            j, after = pick_paragraph(rng, template)
            if j not in (i, i - 1):
                break
        return self.make_task(rng, self.word(rng, start=opening(text), after=opening(after)), template,
                              para=i, text=text, after_para=j, after=after)

    def check(self, task, state):
        texts = [p.text for p in load(state).paragraphs]
        expected = list(paragraph_texts(task.template))
        moved = expected.pop(task.params["para"])
        expected.insert(expected.index(task.params["after"]) + 1, moved)
        return texts == expected

    def solution(self, task):
        p = task.params
        target = p["after_para"] - (1 if p["after_para"] > p["para"] else 0)
        return finish([gui("click", para(p["para"])), api("type_keys", keys="ctrl+x"),
                       gui("click", para(target)), api("type_keys", keys="ctrl+v")])


class InsertPicture(OfficeFamily):
    name = "insert_picture"
    description = "Insert the logo picture after a paragraph."
    templates = tuple(t for t in OfficeFamily.templates if t != "product_sheet")
    requests = ("Insert the picture logo.png after the paragraph starting '{start}'.",
                "Add the logo image below '{start}...'.", "Put logo.png after the paragraph '{start}...'.")

    def sample(self, rng):
        template = rng.choice(self.templates)
        i, text = pick_paragraph(rng, template)
        return self.make_task(rng, self.word(rng, start=opening(text)), template, para=i, text=text)

    def check(self, task, state):
        nxt = _next_element(find_paragraph(load(state), task.params["text"]))
        return nxt is not None and bool(nxt.xpath(".//w:drawing"))

    def solution(self, task):
        return finish([gui("click", para(task.params["para"])), gui("click", "Insert"), gui("click", "Picture"),
                       gui("click", "OK")])


FAMILIES = [InsertTable(), FillTableCell(), AddComment(), DeleteComment(), FindReplace(), PageBreak(),
            InsertHyperlink(), DeleteParagraph(), MoveParagraph(), InsertPicture()]
