"""How a record store (:mod:`lamforge.data.store`) lays its bytes on disk: the stored line with the CRC32
of the record's JSON as its first field, the ``store.json`` marker of a store whose every line is sealed,
fsync of a folder so a new entry survives a power cut, and the wording of a line that does not parse.

Kept apart from :class:`~lamforge.data.store.RecordStore` because these are pure functions of bytes and
paths, with no index, lock or open file: the format can be read (and checked, as the tests do with
``seal`` and ``unseal``) without the store's recovery logic around it.
"""

from __future__ import annotations

import json
import zlib
from pathlib import Path

from pydantic import ValidationError

from lamforge.core.files import write_text_atomic

MARKER = "store.json"  # present: every line of records.jsonl carries a checksum

_HEAD = b'{"_crc32":"'  # every stored line starts with this, 8 hex digits and a closing quote
_HEX = frozenset(b"0123456789abcdef")
_MARKER_TEXT = json.dumps({"format": "lamforge-records", "version": 2, "checksum": "crc32",
                           "note": "every line of records.jsonl starts with the CRC32 of the record's JSON"},
                          indent=2) + "\n"


def seal(body: bytes) -> bytes:
    """The stored line of a record's JSON object ``body``: its CRC32 as the first field, then the
    record's own fields, then a newline."""
    if not (body.startswith(b"{") and body.endswith(b"}")):
        raise ValueError("a record must be one JSON object")
    rest = body[1:]
    return _HEAD + b"%08x" % zlib.crc32(body) + b'"' + (b"" if rest == b"}" else b",") + rest + b"\n"


def unseal(line: bytes) -> tuple[bytes | None, str]:
    """``(record JSON, "")`` for an intact stored line (without its newline); ``(None, why)`` for a
    line that has no checksum or whose checksum does not match its content."""
    crc, tail = line[len(_HEAD):len(_HEAD) + 8], line[len(_HEAD) + 8:]
    if not line.startswith(_HEAD) or len(crc) != 8 or not _HEX.issuperset(crc) or not tail.startswith(b'"'):
        return None, "missing"
    if tail == b'"}':
        body = b"{}"
    elif tail.startswith(b'",'):
        body = b"{" + tail[2:]
    else:
        return None, "missing"
    if b"%08x" % zlib.crc32(body) != crc:
        return None, "mismatch"
    return body, ""


def _is_json(raw: bytes) -> bool:
    try:
        json.loads(raw)
    except ValueError:
        return False
    return True


def _write_marker(path: Path) -> None:
    write_text_atomic(path / MARKER, _MARKER_TEXT, durable=True)


def _is_json_error(error: ValidationError) -> bool:
    return any(e["type"] == "json_invalid" for e in error.errors())


def _brief(error: ValidationError) -> str:
    first = error.errors()[0]
    where = ".".join(str(p) for p in first["loc"]) or "record"
    more = f" (+{error.error_count() - 1} more)" if error.error_count() > 1 else ""
    return f"{where}: {first['msg']}{more}"

