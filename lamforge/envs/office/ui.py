"""The Office application's user interface, declared as data: ribbon tabs and their controls,
dialogs with fields and buttons, and the option lists of drop-downs. The application and the help
articles both read these names, so the manual cannot drift from the UI."""

from __future__ import annotations

from dataclasses import dataclass, field

from docx.enum.text import WD_ALIGN_PARAGRAPH, WD_COLOR_INDEX


@dataclass(frozen=True)
class Widget:
    name: str
    type: str  # Button | ComboBox
    options: tuple[str, ...] = ()
    help: str = ""


@dataclass(frozen=True)
class Dialog:
    name: str
    fields: tuple[str, ...]
    buttons: tuple[str, ...] = ("OK", "Cancel")
    defaults: dict[str, str] = field(default_factory=dict)

    @property
    def default_button(self) -> str:
        return self.buttons[0]


HIGHLIGHTS = {
    "Yellow": WD_COLOR_INDEX.YELLOW,
    "Green": WD_COLOR_INDEX.BRIGHT_GREEN,
    "Turquoise": WD_COLOR_INDEX.TURQUOISE,
    "Pink": WD_COLOR_INDEX.PINK,
    "Gray": WD_COLOR_INDEX.GRAY_25,
    "No Color": None,
}
FONTS = ("Calibri", "Arial", "Times New Roman", "Georgia", "Verdana", "Courier New", "Garamond")
SIZES = ("8", "9", "10", "11", "12", "14", "16", "18", "20", "24", "28", "36")
SPACINGS = ("1.0", "1.15", "1.5", "2.0", "2.5", "3.0")
STYLES = ("Normal", "Title", "Subtitle", "Heading 1", "Heading 2", "Heading 3", "Quote",
          "Intense Quote", "List Bullet", "List Number", "Caption", "No Spacing")
ALIGNMENTS = {
    "Align Left": WD_ALIGN_PARAGRAPH.LEFT,
    "Center": WD_ALIGN_PARAGRAPH.CENTER,
    "Align Right": WD_ALIGN_PARAGRAPH.RIGHT,
    "Justify": WD_ALIGN_PARAGRAPH.JUSTIFY,
}
ORIENTATIONS = ("Portrait", "Landscape")
# top, bottom, left, right in inches (Word's presets)
MARGINS = {"Normal": (1, 1, 1, 1), "Narrow": (0.5, 0.5, 0.5, 0.5), "Moderate": (1, 1, 0.75, 0.75),
           "Wide": (1, 1, 2, 2)}
COLUMNS = {"One": 1, "Two": 2, "Three": 3}

RIBBON: dict[str, tuple[Widget, ...]] = {
    "Home": (
        Widget("Bold", "Button", help="Make the selected text bold (Ctrl+B)."),
        Widget("Italic", "Button", help="Make the selected text italic (Ctrl+I)."),
        Widget("Underline", "Button", help="Underline the selected text (Ctrl+U)."),
        Widget("Strikethrough", "Button", help="Draw a line through the selected text."),
        Widget("Highlight", "ComboBox", tuple(HIGHLIGHTS), "Highlight the selected text."),
        Widget("Font", "ComboBox", FONTS, "Change the font of the selected text."),
        Widget("Font Size", "ComboBox", SIZES, "Change the size of the selected text."),
        Widget("Align Left", "Button", help="Align the selected paragraph to the left."),
        Widget("Center", "Button", help="Center the selected paragraph."),
        Widget("Align Right", "Button", help="Align the selected paragraph to the right."),
        Widget("Justify", "Button", help="Justify the selected paragraph."),
        Widget("Line Spacing", "ComboBox", SPACINGS, "Line spacing of the selected paragraph."),
        Widget("Bullets", "Button", help="Turn the selected paragraph into a bulleted list item."),
        Widget("Numbering", "Button", help="Turn the selected paragraph into a numbered list item."),
        Widget("Styles", "ComboBox", STYLES, "Apply a style to the selected paragraph."),
        Widget("Replace", "Button", help="Open Find and Replace."),
    ),
    "Insert": (
        Widget("Table", "Button", help="Insert a table after the selected paragraph."),
        Widget("Picture", "Button", help="Insert a picture after the selected paragraph."),
        Widget("Page Break", "Button", help="Start a new page after the selected paragraph."),
        Widget("Comment", "Button", help="Comment on the selected text."),
        Widget("Link", "Button", help="Turn the selected text into a hyperlink."),
        Widget("Header", "Button", help="Edit the page header."),
        Widget("Footer", "Button", help="Edit the page footer."),
    ),
    "Layout": (
        Widget("Orientation", "ComboBox", ORIENTATIONS, "Page orientation."),
        Widget("Margins", "ComboBox", tuple(MARGINS), "Page margins."),
        Widget("Columns", "ComboBox", tuple(COLUMNS), "Number of text columns."),
    ),
    "Review": (
        Widget("New Comment", "Button", help="Comment on the selected text."),
        Widget("Delete Comment", "Button", help="Delete the selected comment."),
        Widget("Track Changes", "Button", help="Turn change tracking on or off."),
    ),
    "File": (
        Widget("Save", "Button", help="Save the document (Ctrl+S)."),
        Widget("Save As", "Button", help="Save the document under a new name."),
        Widget("Export PDF", "Button", help="Export the document as a PDF file (needs LibreOffice)."),
    ),
}
TABS = tuple(RIBBON)

DIALOGS: dict[str, Dialog] = {
    d.name: d
    for d in (
        Dialog("Insert Table", ("Rows", "Columns"), defaults={"Rows": "2", "Columns": "2"}),
        Dialog("Insert Picture", ("File name",), defaults={"File name": "logo.png"}),
        Dialog("Find and Replace", ("Find what", "Replace with"), ("Replace All", "Cancel")),
        Dialog("New Comment", ("Comment text",)),
        Dialog("Insert Hyperlink", ("Address",)),
        Dialog("Header", ("Header text",)),
        Dialog("Footer", ("Footer text",)),
        Dialog("Save As", ("File name",), ("Save", "Cancel")),
        Dialog("Export PDF", ("File name",), ("Export", "Cancel")),
    )
}
# ribbon button -> the dialog it opens
OPENS_DIALOG = {"Table": "Insert Table", "Picture": "Insert Picture", "Replace": "Find and Replace",
                "Comment": "New Comment", "New Comment": "New Comment", "Link": "Insert Hyperlink",
                "Header": "Header", "Footer": "Footer", "Save As": "Save As", "Export PDF": "Export PDF"}

# keyboard shortcuts: pywinauto-style (^b, {ENTER}) and spelled-out (ctrl+b, enter) alike
SHORTCUTS = {
    "^b": "bold", "ctrl+b": "bold", "^i": "italic", "ctrl+i": "italic", "^u": "underline",
    "ctrl+u": "underline", "^s": "save", "ctrl+s": "save", "^x": "cut", "ctrl+x": "cut",
    "^c": "copy", "ctrl+c": "copy", "^v": "paste", "ctrl+v": "paste", "{delete}": "delete",
    "delete": "delete", "{backspace}": "delete", "backspace": "delete", "{enter}": "enter",
    "enter": "enter", "{esc}": "escape", "{escape}": "escape", "escape": "escape", "esc": "escape",
}


def tab_of(widget_name: str) -> str | None:
    return next((t for t, ws in RIBBON.items() if any(w.name == widget_name for w in ws)), None)
