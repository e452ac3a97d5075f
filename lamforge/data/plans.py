"""``lamforge collect plans --docs DIR``: turn a folder of help articles into task-plan pairs, the
phase-1 training data (the paper's ``{"task_id", "task", "plan"}`` records).

A how-to page gives one pair: its title, as a request, is the task; the items of its first numbered
list are the plan. Each later ``##`` section with a numbered list of its own ("Using the keyboard")
gives one more pair, titled "<title> (<section>)". Pages without a numbered list give nothing:
``write_plans(extract_plans(manual_dir("office")), "plans.jsonl")`` (``lamforge.envs.manual_dir``) for the shipped Office manual.
"""

from __future__ import annotations

import html
import re
from collections import Counter
from collections.abc import Iterable
from html.parser import HTMLParser
from pathlib import Path

from pydantic import ValidationError

from lamforge.core.errors import TaskFileError
from lamforge.core.files import write_text_atomic
from lamforge.core.prompts import prompt
from lamforge.core.schemas import TaskPlan

SUFFIXES = (".md", ".markdown", ".html", ".htm")

Section = tuple[str | None, list[str]]  # (section heading or None, items of its first numbered list)


def extract_plans(folder: str | Path, backend=None) -> list[TaskPlan]:
    """Every task-plan pair of the documentation pages under ``folder``, in file-name order: by
    rules for structured how-to pages; with a model ``backend``, pages the rules find nothing in
    are given to the model (unstructured prose, tutorials)."""
    root = Path(folder)
    if not root.is_dir():
        reason = "not a folder" if root.exists() else "no such folder"
        raise TaskFileError(root, None, f"{reason}; pass the folder that holds the documentation")
    files = sorted(p for p in root.rglob("*") if p.suffix.lower() in SUFFIXES and p.is_file()
                   and not any(part.startswith(".") for part in p.relative_to(root).parts))
    if not files:
        raise TaskFileError(root, None, f"no documentation files ({', '.join(SUFFIXES)}) in this folder")
    # two pages named index.md in different folders must not share a task id
    stems = Counter(p.stem for p in files)
    pairs = []
    for path in files:
        rel = path.relative_to(root)
        base = path.stem if stems[path.stem] == 1 else rel.with_suffix("").as_posix()
        found = page_plans(path)
        if not found and backend is not None:
            found = llm_page_plans(path, backend)
        for n, (task, plan) in enumerate(found, 1):
            pairs.append(TaskPlan(task_id=base if n == 1 else f"{base}-{n}", task=task, plan=plan,
                                  source=rel.as_posix()))
    return pairs


def llm_page_plans(path: Path, backend, max_chars: int = 3000) -> list[tuple[str, list[str]]]:
    """One (task, plan) pair from a page, written by a model; nothing when it answers NONE or gives
    fewer than two steps."""
    text = _read_text(path)[:max_chars]
    reply = backend.chat([{"role": "user", "content": prompt("data", "plan_from_page").format(page=text)}], max_tokens=200).text
    lines = [ln.strip() for ln in reply.strip().splitlines() if ln.strip()]
    if not lines or lines[0].upper().startswith("NONE"):
        return []
    steps = [clean(re.sub(r"^\d+[.)]\s*", "", ln)) for ln in lines[1:] if re.match(r"^\d+[.)]", ln)]
    return [(request(clean(lines[0])), steps)] if len(steps) >= 2 else []


def page_plans(path: Path) -> list[tuple[str, list[str]]]:
    """The (task, plan) pairs of one page."""
    parse = _parse_html if path.suffix.lower() in (".html", ".htm") else _parse_markdown
    title, sections = parse(_read_text(path))
    title = title or path.stem.replace("-", " ").replace("_", " ").capitalize()
    return [(request(title if n == 0 or not heading else f"{title} ({heading})"), plan)
            for n, (heading, plan) in enumerate(sections) if plan]


_ASKING = re.compile(r"^(?:how (?:to|do i|do you|can i)|to)\s+", re.IGNORECASE)


def request(title: str) -> str:
    """A page title as a user's request: "How to insert a table?" -> "Insert a table."."""
    text = _ASKING.sub("", title.strip()).rstrip(" ?.!:")
    return text[:1].upper() + text[1:] + "." if text else ""


# ------------------------------------------------------------------------------ markdown -----
_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
_ITEM = re.compile(r"^ {0,3}\d{1,9}[.)]\s+(.*)$")
_SUBLIST = re.compile(r"^\s+(?:[-*+]|\d{1,9}[.)])\s+")
_FENCE = re.compile(r"^\s*(```|~~~)")
_INLINE = [
    (re.compile(r"!\[([^\]]*)\]\([^)]*\)"), r"\1"),  # image: keep its alt text
    (re.compile(r"\[([^\]]+)\](?:\([^)]*\)|\[[^\]]*\])"), r"\1"),  # [text](url), [text][ref]
    (re.compile(r"<(https?://[^>\s]+)>"), r"\1"),  # autolink
    (re.compile(r"</?[A-Za-z][^>]*>"), ""),  # inline HTML tags
    (re.compile(r"`+([^`]*)`+"), r"\1"),
    (re.compile(r"\*\*(\S(?:.*?\S)?)\*\*"), r"\1"),
    (re.compile(r"(?<!\w)__(\S(?:.*?\S)?)__(?!\w)"), r"\1"),
    (re.compile(r"(?<![\w*])\*(\S(?:.*?\S)?)\*(?![\w*])"), r"\1"),
    # only underscores at word edges: file_name.docx must keep its underscore
    (re.compile(r"(?<!\w)_(\S(?:.*?\S)?)_(?!\w)"), r"\1"),
    (re.compile(r"\\([\\`*_{}\[\]()#+\-.!|<>])"), r"\1"),  # backslash escapes
]


def clean(text: str) -> str:
    """Markdown inline syntax stripped and whitespace collapsed."""
    for pattern, repl in _INLINE:
        text = pattern.sub(repl, text)
    return " ".join(html.unescape(text).split())


def _parse_markdown(text: str) -> tuple[str | None, list[Section]]:
    lines = text.splitlines()
    if lines and lines[0].strip() == "---":  # YAML front matter (static site generators)
        lines = lines[next((i for i, ln in enumerate(lines[1:], 2) if ln.strip() in ("---", "...")), 0):]
    title: str | None = None
    sections: list[Section] = []
    heading: str | None = None
    items: list[str] | None = None  # the numbered list being read
    taken = fenced = blank = in_sublist = False
    for line in lines:
        if _FENCE.match(line):
            fenced, items = not fenced, None
        if fenced or _FENCE.match(line):  # code samples are not steps
            continue
        if m := _HEADING.match(line):
            items = None
            if len(m[1]) == 1 and title is None and not sections:
                title = clean(m[2])
            elif len(m[1]) <= 2:
                heading, taken = clean(m[2]), False
            continue
        if (m := _ITEM.match(line)) and (items is not None or not taken):
            if items is None:
                items, taken = [], True
                sections.append((heading, items))
            items.append(m[1])
            blank = in_sublist = False
        elif items is None:
            continue
        elif not line.strip():
            blank = True
        elif line[0] in " \t":
            if _SUBLIST.match(line):
                in_sublist = True  # nested details are not steps of their own
            elif not in_sublist:
                items[-1] += " " + line.strip()
        elif blank:
            items = None  # an unindented paragraph after a blank line ends the list
        elif not re.match(r"^(?:[-*+]\s|\||>)", line):
            items[-1] += " " + line.strip()  # lazy continuation of the last item
        else:
            items = None
    return title, [(h, [c for s in its if (c := clean(s))]) for h, its in sections]


# ---------------------------------------------------------------------------------- html -----
class _HtmlPage(HTMLParser):
    """The first <h1> or <title>, and the first top-level <ol> of each <h2> section."""

    SKIP = {"script", "style", "noscript", "template", "nav", "aside", "footer"}
    BLOCK = {"p", "div", "br", "tr", "td", "th", "dd", "dt", "pre", "blockquote", "table", "img"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: dict[str, str] = {}  # the first title and h1
        self.sections: list[Section] = []
        self.heading: str | None = None
        self.capture: str | None = None  # title, h1 or h2 being read
        self.buf: list[str] = []
        self.taken, self.skip, self.depth = False, 0, 0  # depth: nesting of ol/ul
        self.items: list[str] | None = None  # the top-level ol being read
        self.li: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.skip += tag in self.SKIP
        if self.skip:
            return
        if tag in ("title", "h1", "h2"):
            self.capture, self.buf = tag, []
        elif tag in ("ol", "ul"):
            self.depth += 1
            if tag == "ol" and self.depth == 1 and not self.taken:
                self.items = []
        elif tag == "li" and self.items is not None and self.depth == 1:
            self._end_item()
            self.li = []
        elif tag in self.BLOCK:
            self.handle_data(" ")

    def handle_endtag(self, tag: str) -> None:
        if tag in self.SKIP or self.skip:
            self.skip = max(0, self.skip - (tag in self.SKIP))
        elif tag == self.capture:
            text = " ".join("".join(self.buf).split())
            if tag == "h2" or (tag == "h1" and ("h1" in self.found or self.sections)):
                self.heading, self.taken = text, False
            else:
                self.found.setdefault(tag, text)
            self.capture = None
        elif tag == "li" and self.depth == 1:
            self._end_item()
        elif tag in ("ol", "ul") and self.depth:
            if self.depth == 1:
                self.end_list()
            self.depth -= 1

    def handle_data(self, data: str) -> None:
        if self.skip:
            return
        if self.capture:
            self.buf.append(data)
        elif self.li is not None and self.depth == 1:
            self.li.append(data)

    def _end_item(self) -> None:
        text = " ".join("".join(self.li or []).split())
        if text and self.items is not None:
            self.items.append(text)
        self.li = None

    def end_list(self) -> None:
        self._end_item()
        if self.items:
            self.sections.append((self.heading, self.items))
            self.taken = True
        self.items = None


def _parse_html(text: str) -> tuple[str | None, list[Section]]:
    page = _HtmlPage()
    page.feed(text)
    page.close()
    page.end_list()  # a list left open at the end of the file
    return page.found.get("h1") or page.found.get("title"), page.sections


# ------------------------------------------------------------------------------ jsonl io -----
def write_plans(pairs: Iterable[TaskPlan], path: str | Path) -> Path:
    """Write ``pairs`` as JSON Lines, one ``TaskPlan`` per line."""
    return write_text_atomic(path, "".join(pair.model_dump_json() + "\n" for pair in pairs))


def read_plans(path: str | Path) -> list[TaskPlan]:
    """The pairs of a JSON Lines file written by :func:`write_plans`; blank lines are skipped."""
    path = Path(path)
    pairs = []
    for n, line in enumerate(_read_text(path).splitlines(), 1):
        if not line.strip():
            continue
        try:
            pairs.append(TaskPlan.model_validate_json(line))
        except ValidationError as e:
            err = e.errors()[0]
            where = "".join(f"{x}: " for x in err["loc"][:1])
            raise TaskFileError(path, n, f"not a task-plan record: {where}{err['msg']}") from None
    return pairs


def _read_text(path: Path) -> str:
    try:
        data = path.read_bytes()
    except OSError as e:
        raise TaskFileError(path, None, f"cannot read the file: {e.strerror}") from None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = data[: e.start].count(b"\n") + 1
        raise TaskFileError(path, line, f"not valid UTF-8 (byte {e.start}: {e.reason}); "
                                        "save the file as UTF-8") from None
