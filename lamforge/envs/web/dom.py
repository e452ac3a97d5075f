"""The page as a compact labelled list, read by one script run in the page.

Each element worth acting on or reading gets a ``data-lf`` attribute holding its label the first
time it is seen; the attribute stays on the node, so the label survives re-renders that keep the
node (and the same label is never given to another node in the episode). What is listed:

* interactive elements (links, buttons, inputs, selects, text areas, ARIA widgets, content-editable
  boxes) with an accessible name and their value or state;
* elements that hold text of their own (headings, cells, list items, paragraphs, labels), typed by
  their tag, because on many pages (MiniWoB's among them) a clickable thing is a plain span;
* SVG shapes, named by shape and colour.

Invisible elements (``display: none``, zero size) are left out. Descendants of an interactive
element are folded into it (a button lists once, with its text as name).
"""

from __future__ import annotations

from lamforge.core.schemas import Control

ATTR = "data-lf"

OBSERVE_JS = r"""
(opts) => {
  const ATTR = 'data-lf';
  const root = (opts.root && document.querySelector(opts.root)) || document.body;
  const skip = new Set();
  for (const sel of opts.exclude || []) document.querySelectorAll(sel).forEach(e => skip.add(e));
  let next = opts.next;  // the episode's label counter lives in Python: labels go on across pages
  const ROLES = new Set(['button', 'link', 'checkbox', 'radio', 'tab', 'menuitem', 'option', 'switch',
    'treeitem', 'combobox', 'textbox', 'slider', 'spinbutton', 'searchbox', 'listbox', 'menuitemcheckbox',
    'menuitemradio']);
  const SHAPES = new Set(['circle', 'rect', 'ellipse', 'polygon', 'line', 'path', 'polyline']);
  const clip = (s, n) => { s = (s || '').replace(/\s+/g, ' ').trim(); return s.length > n ? s.slice(0, n - 1) + '…' : s; };
  // values keep their spaces (a copy task compares them exactly); only line breaks are flattened
  const clipv = (s, n) => { s = String(s || '').replace(/\n/g, ' '); return s.length > n ? s.slice(0, n - 1) + '…' : s; };
  const direct = el => { let t = ''; for (const n of el.childNodes) if (n.nodeType === 3) t += ' ' + n.textContent; return clip(t, 100); };
  const visible = el => {
    const st = getComputedStyle(el);
    if (st.display === 'none' || st.visibility === 'hidden' || st.visibility === 'collapse') return false;
    const r = el.getBoundingClientRect();
    return r.width > 0 && r.height > 0;
  };
  const nameOf = el => {
    const aria = el.getAttribute('aria-label');
    if (aria) return aria;
    const by = el.getAttribute('aria-labelledby');
    if (by) { const l = document.getElementById(by); if (l) return l.textContent; }
    if (el.labels && el.labels.length) return el.labels[0].textContent;
    return el.getAttribute('placeholder') || el.getAttribute('title') || el.getAttribute('name') || el.id || '';
  };
  const pointer = el => getComputedStyle(el).cursor === 'pointer' &&
    !(el.parentElement && getComputedStyle(el.parentElement).cursor === 'pointer');
  // [type, name, value, atomic] or null
  const describe = el => {
    const tag = el.tagName.toLowerCase();
    const role = (el.getAttribute('role') || '').toLowerCase();
    const text = clip(el.innerText || el.textContent, 60);
    if (tag === 'a' && (el.hasAttribute('href') || role === 'link' || el.onclick)) return ['link', text || el.getAttribute('href') || '', '', true];
    if (tag === 'button') return ['button', text || el.value || nameOf(el), '', true];
    if (tag === 'input') {
      const t = (el.getAttribute('type') || '').toLowerCase();
      if (t === 'hidden') return null;
      if (['button', 'submit', 'reset', 'image'].includes(t)) return ['button', el.value || nameOf(el) || t, '', true];
      if (t === 'checkbox' || t === 'radio') return [t, clip(nameOf(el), 60), el.checked ? 'checked' : '', true];
      if (t === 'range') return ['slider', clip(nameOf(el), 60), String(el.value) + ` (${el.min || 0}..${el.max || 100})`, true];
      if (t === 'file') return null;
      return ['textbox', clip(nameOf(el), 60), clipv(el.value, 120), true];
    }
    if (tag === 'textarea') return ['textbox', clip(nameOf(el), 60), clipv(el.value, 2000), true];
    if (tag === 'select') {
      const opts = Array.from(el.options).map(o => clip(o.text, 30));
      const sel = Array.from(el.selectedOptions).map(o => clip(o.text, 30)).join(', ');
      return ['combobox', clip(nameOf(el), 60), `${sel} {${opts.join('|')}}`, true];
    }
    if (el.isContentEditable && !(el.parentElement && el.parentElement.isContentEditable))
      return ['textbox', clip(nameOf(el), 60), clip(el.innerText, 80), true];
    if (ROLES.has(role)) {
      const checked = el.getAttribute('aria-checked') === 'true' || el.getAttribute('aria-selected') === 'true' ? 'selected' : '';
      return [role, clip(el.getAttribute('aria-label') || text, 60), checked, true];
    }
    if (el instanceof SVGElement) {
      if (SHAPES.has(tag)) return ['shape', `${tag} ${el.getAttribute('fill') || el.style.fill || el.getAttribute('stroke') || ''}`.trim(), '', true];
      if (tag === 'text') return ['text', clip(el.textContent, 60), '', true];
      return null;
    }
    if (tag === 'img') return ['img', clip(el.getAttribute('alt') || (el.getAttribute('src') || '').split('/').pop(), 60), '', true];
    if (tag === 'label' && el.control) return null;  // its control carries the name
    const own = direct(el);
    const kind = /^h[1-6]$/.test(tag) ? 'heading' : tag === 'li' ? 'listitem' : (tag === 'td' || tag === 'th') ? 'cell'
      : tag === 'label' ? 'label' : 'text';
    if (own) return [kind, own, '', false];
    if (!el.children.length) {  // a coloured leaf box (a swatch, a cell of a grid) is named by its colour
      const bg = el.getAttribute('data-color') || el.style.backgroundColor;
      if (bg) return ['box', clip(bg, 30), '', false];
    }
    if (!el.children.length) {  // an icon: an empty leaf drawn by CSS (star, trash, reply, ...)
      const st = getComputedStyle(el);
      if (st.cursor === 'pointer' || st.backgroundImage !== 'none' || (st.content || '').startsWith('url'))
        return ['clickable', clip(el.id || el.className && String(el.className) || tag, 40), '', false];
    }
    if (el.hasAttribute('onclick') || el.hasAttribute('tabindex') || pointer(el))
      return ['clickable', clip(el.id || el.className && String(el.className) || tag, 40), '', false];
    return null;
  };
  const out = [];
  const walk = el => {
    if (out.length >= opts.max || skip.has(el)) return;
    if (!visible(el) && !(el instanceof SVGElement && el.tagName.toLowerCase() === 'g')) {
      // an invisible box may still hold visible children (e.g. position: fixed popups); keep looking
      if (getComputedStyle(el).display === 'none') return;
    } else {
      const d = describe(el);
      if (d) {
        let label = parseInt(el.getAttribute(ATTR));
        if (!label) { label = next++; el.setAttribute(ATTR, String(label)); }
        const value = el.disabled ? (d[2] ? d[2] + ', disabled' : 'disabled') : d[2];
        out.push({label, type: d[0], name: d[1], value});
        if (d[3]) return;
      }
    }
    for (const c of el.children) walk(c);
  };
  walk(root);
  return {controls: out, title: document.title, url: location.href, next,
          focused: document.activeElement && document.activeElement.getAttribute(ATTR)};
}
"""

RESET_LABELS_JS = r"""
() => { document.querySelectorAll('[data-lf]').forEach(e => e.removeAttribute('data-lf')); }
"""

INFO_JS = r"""
(label) => {
  const el = document.querySelector(`[data-lf="${label}"]`);
  if (!el) return null;
  const st = getComputedStyle(el), r = el.getBoundingClientRect();
  const tag = el.tagName.toLowerCase(), type = (el.getAttribute('type') || '').toLowerCase();
  const editable = el.isContentEditable || tag === 'textarea' ||
    (tag === 'input' && !['button', 'submit', 'reset', 'image', 'checkbox', 'radio', 'range', 'file', 'hidden'].includes(type));
  return {tag, type, editable, select: tag === 'select', multiple: tag === 'select' && el.multiple,
          selected: tag === 'select' ? Array.from(el.selectedOptions).map(o => o.text.trim()) : [],
          options: tag === 'select' ? Array.from(el.options).map(o => o.text.trim()) : [],
          visible: st.display !== 'none' && st.visibility !== 'hidden' && r.width > 0 && r.height > 0,
          disabled: !!el.disabled, readonly: !!el.readOnly};
}
"""

SCROLL_JS = r"""
([label, dy]) => {
  let el = document.querySelector(`[data-lf="${label}"]`);
  while (el && el !== document.body) {
    const st = getComputedStyle(el);
    if (/(auto|scroll)/.test(st.overflowY) && el.scrollHeight > el.clientHeight) { el.scrollBy(0, dy * el.clientHeight * 0.8); return true; }
    el = el.parentElement;
  }
  window.scrollBy(0, dy * window.innerHeight * 0.8);
  return false;
}
"""


def controls_from(raw: list[dict]) -> list[Control]:
    return [Control(label=int(c["label"]), type=c["type"], name=c["name"] or "", value=c["value"] or None)
            for c in raw]
