"""The Office environment's actions: GUI ones act on a labelled control, API ones call the
application's API directly (the paper's two kinds). One declaration each; see lamforge.core.actions."""

from lamforge.core.actions import ActionSet, ActionSpec, Param
from lamforge.core.screen import ScreenFilter

# a phrase to select is words of a shown paragraph or cell: left free, an untrained model wrote 300
# characters of invented text per step (6-7 s each, session 17) and a trained one phrases not in
# the paragraph it dragged over
_TEXT = ("Paragraph", "Cell")

OFFICE_ACTIONS = ActionSet([
    ActionSpec(name="click", kind="gui", targets_control=True,
               description="Click a control: a tab, a button, a dialog button or field, or a document item to select it."),
    ActionSpec(name="set_text", kind="gui", targets_control=True, control_types=("Edit", "Cell", "Paragraph"),
               description="Replace the text of an edit field, table cell or paragraph.",
               params=[Param(name="text", description="The new text.")]),
    ActionSpec(name="select_option", kind="gui", targets_control=True, control_types=("ComboBox",),
               description="Choose an option of a drop-down (combo box).",
               params=[Param(name="option", description="One of the options the control lists.", from_control=True)]),
    ActionSpec(name="type_keys", kind="gui",
               description="Type text at the cursor, or press keys: ctrl+b, ctrl+i, ctrl+u, ctrl+s, ctrl+x, ctrl+c, ctrl+v, delete, enter, escape.",
               params=[Param(name="keys", description="Text to type or a key combination.")]),
    ActionSpec(name="drag_select", kind="gui", targets_control=True, control_types=("Paragraph", "Cell"),
               description="Select a phrase inside a paragraph or table cell with the mouse.",
               params=[Param(name="text", description="The exact phrase to select.", text_of=_TEXT)]),
    ActionSpec(name="select_text", kind="api",
               description="Select the first occurrence of a phrase anywhere in the document.",
               params=[Param(name="text", description="The exact phrase to select.", text_of=_TEXT)]),
    ActionSpec(name="select_paragraph", kind="api",
               description="Select a whole paragraph by its number (as in 'Paragraph N').",
               params=[Param(name="index", type="integer", description="Paragraph number, from 1.")]),
    ActionSpec(name="insert_table", kind="api",
               description="Insert an empty table after the selected paragraph.",
               params=[Param(name="rows", type="integer", description="Number of rows."),
                       Param(name="columns", type="integer", description="Number of columns.")]),
    ActionSpec(name="set_font", kind="api",
               description="Set the font name and/or size (points) of the selected text.",
               params=[Param(name="font_name", required=False, description="Font name, e.g. Arial."),
                       Param(name="font_size", type="number", required=False, description="Size in points.")]),
    ActionSpec(name="save_as", kind="api",
               description="Save the document under a new file name in the same folder.",
               params=[Param(name="file_name", description="New file name, e.g. report_v2.docx.")]),
], refer_by_name=True, screen_filter=ScreenFilter(k=3),
              no_repeat=("click",))  # a toggle (Bold, Bullets, Track Changes) clicked twice is undone
