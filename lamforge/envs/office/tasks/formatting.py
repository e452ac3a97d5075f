"""Character and paragraph formatting families."""

from __future__ import annotations

import random

from lamforge.core.schemas import Task
from lamforge.envs.office.tasks.common import (
    OfficeFamily, api, find_paragraph, finish, gui, load, opening, para, pick_paragraph, pick_phrase,
    runs_ok,
)
from lamforge.envs.office.ui import ALIGNMENTS, HIGHLIGHTS


class HighlightText(OfficeFamily):
    name = "highlight_text"
    description = "Highlight a phrase in a colour."
    requests = ("Highlight '{phrase}' in {color}.", "Mark the words '{phrase}' with {color} highlighting.",
                "Use the {color} highlighter on '{phrase}'.")

    def sample(self, rng):
        template = rng.choice(self.templates)
        i, phrase = pick_phrase(rng, template)
        color = rng.choice([c for c in HIGHLIGHTS if c != "No Color"])
        return self.make_task(rng, self.word(rng, phrase=phrase, color=color.lower()), template,
                              phrase=phrase, color=color, para=i)

    def check(self, task, state):
        want = HIGHLIGHTS[task.params["color"]]
        return runs_ok(load(state), task.params["phrase"], lambda r: r.font.highlight_color == want)

    def solution(self, task):
        p = task.params
        return finish([gui("drag_select", para(p["para"]), text=p["phrase"]),
                       gui("select_option", "Highlight", option=p["color"])])


class _ToggleFamily(OfficeFamily):
    """Bold / italic / underline / strikethrough on a phrase, each reached a different way."""

    attr: str
    label: str

    def sample(self, rng):
        template = rng.choice(self.templates)
        i, phrase = pick_phrase(rng, template)
        return self.make_task(rng, self.word(rng, phrase=phrase), template, phrase=phrase, para=i)

    def check(self, task, state):
        return runs_ok(load(state), task.params["phrase"], lambda r: bool(getattr(r.font, self.attr)))


class BoldText(_ToggleFamily):
    name, attr = "bold_text", "bold"
    description = "Make a phrase bold."
    requests = ("Make '{phrase}' bold.", "Put the words '{phrase}' in bold.", "Bold the phrase '{phrase}'.")

    def solution(self, task):
        return finish([api("select_text", text=task.params["phrase"]), gui("click", "Bold")])


class ItalicText(_ToggleFamily):
    name, attr = "italic_text", "italic"
    description = "Make a phrase italic."
    requests = ("Make '{phrase}' italic.", "Italicise '{phrase}'.", "Set '{phrase}' in italics.")

    def solution(self, task):
        p = task.params
        return finish([gui("drag_select", para(p["para"]), text=p["phrase"]), api("type_keys", keys="ctrl+i")])


class UnderlineText(_ToggleFamily):
    name, attr = "underline_text", "underline"
    description = "Underline a phrase."
    requests = ("Underline '{phrase}'.", "Draw a line under the words '{phrase}'.",
                "Please underline the phrase '{phrase}'.")

    def solution(self, task):
        p = task.params
        return finish([gui("drag_select", para(p["para"]), text=p["phrase"]), gui("click", "Underline")])


class StrikethroughText(_ToggleFamily):
    name, attr = "strikethrough_text", "strike"
    description = "Strike through a phrase."
    requests = ("Strike through '{phrase}'.", "Cross out the words '{phrase}'.",
                "Apply strikethrough to '{phrase}'.")

    def solution(self, task):
        return finish([api("select_text", text=task.params["phrase"]), gui("click", "Strikethrough")])


class ChangeFont(OfficeFamily):
    name = "change_font"
    description = "Change the font of a whole paragraph."
    requests = ("Change the font of the paragraph starting '{start}' to {font}.",
                "Set the paragraph that begins with '{start}' in {font}.",
                "Use the {font} font for the paragraph '{start}...'.")

    def sample(self, rng):
        template = rng.choice(self.templates)
        i, text = pick_paragraph(rng, template)
        font = rng.choice(["Arial", "Times New Roman", "Georgia", "Verdana", "Courier New", "Garamond"])
        return self.make_task(rng, self.word(rng, start=opening(text), font=font), template,
                              para=i, text=text, font=font)

    def check(self, task, state):
        p = find_paragraph(load(state), task.params["text"])
        return p is not None and bool(p.runs) and all(r.font.name == task.params["font"] for r in p.runs)

    def solution(self, task):
        p = task.params
        return finish([api("select_paragraph", index=p["para"] + 1), api("set_font", font_name=p["font"])])


class ChangeFontSize(OfficeFamily):
    name = "change_font_size"
    description = "Change the font size of a phrase."
    requests = ("Make '{phrase}' {size} points.", "Set the font size of '{phrase}' to {size}.",
                "Change '{phrase}' to size {size}.")

    def sample(self, rng):
        template = rng.choice(self.templates)
        i, phrase = pick_phrase(rng, template)
        size = rng.choice(["9", "12", "14", "16", "18", "20", "24"])
        return self.make_task(rng, self.word(rng, phrase=phrase, size=size), template,
                              phrase=phrase, size=size, para=i)

    def check(self, task, state):
        want = float(task.params["size"])
        return runs_ok(load(state), task.params["phrase"], lambda r: r.font.size is not None and r.font.size.pt == want)

    def solution(self, task):
        p = task.params
        return finish([gui("drag_select", para(p["para"]), text=p["phrase"]),
                       gui("select_option", "Font Size", option=p["size"])])


class _ParagraphFamily(OfficeFamily):
    """Tasks on one whole paragraph, named in the request by its opening words."""

    choices: tuple[str, ...]

    def sample(self, rng: random.Random) -> Task:
        template = rng.choice(self.templates)
        i, text = pick_paragraph(rng, template)
        value = rng.choice(self.choices)
        return self.make_task(rng, self.word(rng, start=opening(text), value=self.spoken(value)), template,
                              para=i, text=text, value=value)

    def spoken(self, value: str) -> str:
        return value.lower()

    def paragraph(self, task, state):
        return find_paragraph(load(state), task.params["text"])


class AlignParagraph(_ParagraphFamily):
    name = "align_paragraph"
    description = "Align a paragraph (centre, right, justify)."
    choices = ("Center", "Align Right", "Justify")
    requests = ("Align the paragraph starting '{start}' {value}.",
                "Make the paragraph '{start}...' {value}.", "Set the alignment of '{start}...' to {value}.")

    def spoken(self, value):
        return {"Center": "centered", "Align Right": "right-aligned", "Justify": "justified"}[value]

    def check(self, task, state):
        p = self.paragraph(task, state)
        return p is not None and p.alignment == ALIGNMENTS[task.params["value"]]

    def solution(self, task):
        return finish([gui("click", para(task.params["para"])), gui("click", task.params["value"])])


class LineSpacing(_ParagraphFamily):
    name = "line_spacing"
    description = "Set the line spacing of a paragraph."
    choices = ("1.15", "1.5", "2.0", "2.5")
    requests = ("Set the line spacing of the paragraph starting '{start}' to {value}.",
                "Use {value} line spacing for the paragraph '{start}...'.",
                "Change the spacing between lines in '{start}...' to {value}.")

    def check(self, task, state):
        p = self.paragraph(task, state)
        v = p.paragraph_format.line_spacing if p is not None else None
        return isinstance(v, float) and abs(v - float(task.params["value"])) < 1e-6

    def solution(self, task):
        p = task.params
        return finish([gui("click", para(p["para"])), gui("select_option", "Line Spacing", option=p["value"])])


class MakeHeading(_ParagraphFamily):
    name = "make_heading"
    description = "Turn a paragraph into a heading."
    choices = ("Heading 1", "Heading 2", "Heading 3")
    requests = ("Turn the paragraph starting '{start}' into a {value}.",
                "Make '{start}...' a {value}.", "Format the paragraph '{start}...' as {value}.")

    def check(self, task, state):
        p = self.paragraph(task, state)
        return p is not None and p.style.name == task.params["value"]

    def solution(self, task):
        p = task.params
        return finish([gui("click", para(p["para"])), gui("select_option", "Styles", option=p["value"])])


class ApplyStyle(_ParagraphFamily):
    name = "apply_style"
    description = "Apply a paragraph style (Quote, Title, ...)."
    choices = ("Quote", "Intense Quote", "Subtitle", "Caption", "No Spacing")
    requests = ("Apply the {value} style to the paragraph starting '{start}'.",
                "Give the paragraph '{start}...' the {value} style.", "Style '{start}...' as {value}.")

    def spoken(self, value):
        return value

    def check(self, task, state):
        p = self.paragraph(task, state)
        return p is not None and p.style.name == task.params["value"]

    def solution(self, task):
        p = task.params
        return finish([api("select_paragraph", index=p["para"] + 1), gui("select_option", "Styles", option=p["value"])])


class _ListFamily(_ParagraphFamily):
    choices = ("",)
    style: str
    button: str

    def check(self, task, state):
        p = self.paragraph(task, state)
        return p is not None and p.style.name == self.style


class BulletList(_ListFamily):
    name, style, button = "bulleted_list", "List Bullet", "Bullets"
    description = "Make a paragraph a bulleted list item."
    requests = ("Make the paragraph starting '{start}' a bullet point.",
                "Turn '{start}...' into a bulleted list item.", "Add a bullet to the paragraph '{start}...'.")

    def solution(self, task):
        return finish([gui("click", para(task.params["para"])), gui("click", "Bullets")])


class NumberedList(_ListFamily):
    name, style, button = "numbered_list", "List Number", "Numbering"
    description = "Make a paragraph a numbered list item."
    requests = ("Make the paragraph starting '{start}' a numbered list item.",
                "Number the paragraph '{start}...'.", "Turn '{start}...' into a numbered item.")

    def solution(self, task):
        return finish([api("select_paragraph", index=task.params["para"] + 1), gui("click", "Numbering")])


FAMILIES = [HighlightText(), BoldText(), ItalicText(), UnderlineText(), StrikethroughText(), ChangeFont(),
            ChangeFontSize(), AlignParagraph(), LineSpacing(), MakeHeading(), ApplyStyle(), BulletList(),
            NumberedList()]
