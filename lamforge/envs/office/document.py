"""Operations on real .docx documents (python-docx plus the few OOXML edits it has no API for).

Everything here works on a ``docx.Document`` and is shared by the application (which edits) and
the task checks (which read the saved file back from disk).
"""

from __future__ import annotations

from copy import deepcopy

import docx
from docx.document import Document
from docx.enum.text import WD_BREAK
from docx.opc.constants import RELATIONSHIP_TYPE as RT
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.text.paragraph import Paragraph
from docx.text.run import Run

from lamforge.core.errors import ActionNotApplicable


def load(source) -> Document:
    """A document from a path or a binary file object."""
    return docx.Document(source if hasattr(source, "read") else str(source))


# --- text ranges ---------------------------------------------------------------------------------


def runs_of(p: Paragraph) -> list[Run]:
    """Every text run of a paragraph in order, including those inside hyperlinks, so offsets
    match ``p.text``."""
    return [Run(r, p) for r in p._p.xpath("./w:r | ./w:hyperlink/w:r")]


def find_text(doc: Document, text: str) -> tuple[int, int] | None:
    """(paragraph index, start offset) of the first occurrence of ``text`` in the body."""
    for i, p in enumerate(doc.paragraphs):
        k = p.text.find(text)
        if k >= 0 and text:
            return i, k
    return None


def _split_at(p: Paragraph, offset: int) -> None:
    pos = 0
    for run in runs_of(p):
        t = run.text
        if pos < offset < pos + len(t):
            k = offset - pos
            twin = deepcopy(run._r)
            run._r.addnext(twin)
            run.text = t[:k]
            Run(twin, p).text = t[k:]
            return
        pos += len(t)


def isolate(p: Paragraph, start: int, end: int) -> list[Run]:
    """Split runs so that [start, end) of the paragraph's text is covered by whole runs, keeping
    each run's formatting, and return those runs."""
    if not 0 <= start < end <= len(p.text):
        raise ActionNotApplicable(f"text range {start}-{end} is outside the paragraph")
    _split_at(p, start)
    _split_at(p, end)
    out, pos = [], 0
    for run in runs_of(p):
        n = len(run.text)
        if n and pos >= start and pos + n <= end:
            out.append(run)
        pos += n
    return out


def runs_covering(p: Paragraph, start: int, end: int) -> list[Run]:
    """Read-only: the runs that overlap [start, end)."""
    out, pos = [], 0
    for run in runs_of(p):
        n = len(run.text)
        if n and pos < end and pos + n > start:
            out.append(run)
        pos += n
    return out


def phrase_runs(doc: Document, phrase: str) -> list[Run]:
    """Runs covering the first occurrence of ``phrase`` (empty if absent)."""
    hit = find_text(doc, phrase)
    if hit is None:
        return []
    i, k = hit
    return runs_covering(doc.paragraphs[i], k, k + len(phrase))


# --- structure -----------------------------------------------------------------------------------


def insert_paragraph_after(p: Paragraph, text: str = "") -> Paragraph:
    new_p = OxmlElement("w:p")
    p._p.addnext(new_p)
    para = Paragraph(new_p, p._parent)
    if text:
        para.add_run(text)
    return para


def insert_page_break_after(p: Paragraph) -> Paragraph:
    para = insert_paragraph_after(p)
    para.add_run().add_break(WD_BREAK.PAGE)
    return para


def has_page_break(p: Paragraph) -> bool:
    return bool(p._p.xpath(".//w:br[@w:type='page']"))


def delete_paragraph(p: Paragraph) -> None:
    p._p.getparent().remove(p._p)


def insert_table_after(doc: Document, p: Paragraph | None, rows: int, cols: int):
    table = doc.add_table(rows=rows, cols=cols)
    table.style = "Table Grid"
    if p is not None:
        p._p.addnext(table._tbl)
    return table


def add_hyperlink(p: Paragraph, start: int, end: int, url: str) -> None:
    runs = isolate(p, start, end)
    if any(r._r.getparent().tag == qn("w:hyperlink") for r in runs):
        raise ActionNotApplicable("the selected text is already a link")
    r_id = p.part.relate_to(url, RT.HYPERLINK, is_external=True)
    link = OxmlElement("w:hyperlink")
    link.set(qn("r:id"), r_id)
    runs[0]._r.addprevious(link)
    for run in runs:
        link.append(run._r)  # moves the run into the link
        run.font.underline = True
        run.font.color.rgb = docx.shared.RGBColor(0x05, 0x63, 0xC1)


# --- comments ------------------------------------------------------------------------------------


def comment_anchor_text(doc: Document, comment_id: int) -> str:
    """The text a comment is anchored on (between its range start and end markers)."""
    body = doc.element.body
    starts = body.xpath(f".//w:commentRangeStart[@w:id='{comment_id}']")
    if not starts:
        return ""
    out, inside = [], False
    for el in body.iter():
        if el.tag == qn("w:commentRangeStart") and el.get(qn("w:id")) == str(comment_id):
            inside = True
        elif el.tag == qn("w:commentRangeEnd") and el.get(qn("w:id")) == str(comment_id):
            break
        elif inside and el.tag == qn("w:t"):
            out.append(el.text or "")
    return "".join(out)


def delete_comment(doc: Document, comment_id: int) -> None:
    body = doc.element.body
    for tag in ("commentRangeStart", "commentRangeEnd"):
        for el in body.xpath(f".//w:{tag}[@w:id='{comment_id}']"):
            el.getparent().remove(el)
    for ref in body.xpath(f".//w:commentReference[@w:id='{comment_id}']"):
        run = ref.getparent()
        run.getparent().remove(run)
    comments_el = doc.part._comments_part.element
    for c in comments_el.xpath(f"./w:comment[@w:id='{comment_id}']"):
        comments_el.remove(c)


def comments(doc: Document) -> list[tuple[int, str, str]]:
    """(id, author, text) of each comment; empty when the document has none."""
    try:  # reading must not create a comments part, as python-docx's accessor would
        doc.part.part_related_by(RT.COMMENTS)
    except KeyError:
        return []
    return [(c.comment_id, c.author, c.text) for c in doc.comments]


# --- section and settings ------------------------------------------------------------------------


def columns(doc: Document) -> int:
    cols = doc.sections[0]._sectPr.find(qn("w:cols"))
    return int(cols.get(qn("w:num"), "1")) if cols is not None else 1


def set_columns(doc: Document, n: int) -> None:
    for section in doc.sections:
        sect = section._sectPr
        cols = sect.find(qn("w:cols"))
        if cols is None:  # w:cols sits before w:docGrid in the schema's order
            cols = OxmlElement("w:cols")
            grid = sect.find(qn("w:docGrid"))
            (grid.addprevious if grid is not None else sect.append)(cols)
        cols.set(qn("w:num"), str(n))
        cols.set(qn("w:space"), "720")


def track_changes(doc: Document) -> bool:
    return doc.settings.element.find(qn("w:trackRevisions")) is not None


def set_track_changes(doc: Document, on: bool) -> None:
    settings = doc.settings.element
    existing = settings.find(qn("w:trackRevisions"))
    if on and existing is None:
        el = OxmlElement("w:trackRevisions")
        # keep the schema's element order: insert before the first element that must follow
        after = {qn(t) for t in _SETTINGS_AFTER_TRACK[1:] if ":" in t and not t.startswith(("m:", "sl:"))}
        follower = next((c for c in settings if c.tag in after), None)
        (follower.addprevious if follower is not None else settings.append)(el)
    elif not on and existing is not None:
        settings.remove(existing)


# python-docx deletes CT_Settings._tag_seq after class creation; the successors of
# w:trackRevisions in the WordprocessingML schema, for the insertion above.
_SETTINGS_AFTER_TRACK = [
    "w:trackRevisions", "w:doNotTrackMoves", "w:doNotTrackFormatting", "w:documentProtection",
    "w:autoFormatOverride", "w:styleLockTheme", "w:styleLockQFSet", "w:defaultTabStop",
    "w:autoHyphenation", "w:consecutiveHyphenLimit", "w:hyphenationZone", "w:doNotHyphenateCaps",
    "w:showEnvelope", "w:summaryLength", "w:clickAndTypeStyle", "w:defaultTableStyle",
    "w:evenAndOddHeaders", "w:bookFoldRevPrinting", "w:bookFoldPrinting", "w:bookFoldPrintingSheets",
    "w:drawingGridHorizontalSpacing", "w:drawingGridVerticalSpacing",
    "w:displayHorizontalDrawingGridEvery", "w:displayVerticalDrawingGridEvery",
    "w:doNotUseMarginsForDrawingGridOrigin", "w:drawingGridHorizontalOrigin",
    "w:drawingGridVerticalOrigin", "w:doNotShadeFormData", "w:noPunctuationKerning",
    "w:characterSpacingControl", "w:printTwoOnOne", "w:strictFirstAndLastChars",
    "w:noLineBreaksAfter", "w:noLineBreaksBefore", "w:savePreviewPicture",
    "w:doNotValidateAgainstSchema", "w:saveInvalidXml", "w:ignoreMixedContent",
    "w:alwaysShowPlaceholderText", "w:doNotDemarcateInvalidXml", "w:saveXmlDataOnly",
    "w:useXSLTWhenSaving", "w:saveThroughXslt", "w:showXMLTags", "w:alwaysMergeEmptyNamespace",
    "w:updateFields", "w:hdrShapeDefaults", "w:footnotePr", "w:endnotePr", "w:compat",
    "w:docVars", "w:rsids", "m:mathPr", "w:attachedSchema", "w:themeFontLang",
    "w:clrSchemeMapping", "w:doNotIncludeSubdocsInStats", "w:doNotAutoCompressPictures",
    "w:forceUpgrade", "w:captions", "w:readModeInkLockDown", "w:smartTagType",
    "sl:schemaLibrary", "w:shapeDefaults", "w:doNotEmbedSmartTags", "w:decimalSymbol",
    "w:listSeparator",
]


def body_text(doc: Document) -> str:
    return "\n".join(p.text for p in doc.paragraphs)
