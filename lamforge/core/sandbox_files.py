"""The sandbox's working folder on the host (:mod:`lamforge.core.sandbox`): copying the caller's files
in and the results out, and removing what the code left.

The parent does this, possibly as root, on a folder that hostile code had full control of: so it
copies only regular files and folders, never follows a link (``O_NOFOLLOW``, ``follow_symlinks=False``),
replaces a link it finds at a target instead of writing through it, skips pipes (reading one would
block) and devices, and caps the depth. Removal falls back to GNU rm, which copes with folders nested
deeper than Python's recursion and with folders the code made unreadable.
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
from contextlib import suppress
from pathlib import Path


def copy_tree(src: Path, dst: Path, *, owner: tuple[int, int] | None, max_depth: int = 32) -> None:
    """Copy the regular files and folders of ``src`` into ``dst`` (overwriting), never following a link
    and skipping links, pipes and devices; a link already at a target in ``dst`` is replaced, not
    written through. Depth-capped: code can nest folders faster than anyone should copy them."""
    stack = [(src, dst, 0)]
    while stack:
        s, d, depth = stack.pop()
        try:
            with os.scandir(s) as it:
                entries = list(it)
        except OSError:
            continue
        for e in entries:
            target = d / e.name
            try:
                if e.is_dir(follow_symlinks=False) and depth < max_depth:
                    if target.is_symlink():
                        target.unlink()
                    target.mkdir(exist_ok=True)
                    stack.append((Path(e.path), target, depth + 1))
                elif e.is_file(follow_symlinks=False):
                    if target.is_symlink():
                        target.unlink()
                    _copy_file(e.path, target, e.stat(follow_symlinks=False).st_mode & 0o777)
                else:
                    continue
                if owner:
                    os.chown(target, *owner, follow_symlinks=False)
            except OSError:
                continue  # one unreadable or clashing entry does not lose the others


def _copy_file(src: str, dst: Path, mode: int) -> None:
    fin = os.open(src, os.O_RDONLY | os.O_NOFOLLOW)
    try:
        fout = os.open(dst, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, mode | 0o600)
        try:
            while chunk := os.read(fin, 1 << 20):
                os.write(fout, chunk)
        finally:
            os.close(fout)
    finally:
        os.close(fin)


def remove_tree(path: Path) -> None:
    """Remove a folder the sandbox wrote: shutil first, then GNU rm, which also copes with folders
    nested deeper than Python's recursion and with folders the code made unreadable."""
    with suppress(Exception):
        shutil.rmtree(path)
    if os.path.lexists(path):
        subprocess.run(["chmod", "-R", "u+rwX", "--", str(path)], capture_output=True, check=False)
        subprocess.run(["rm", "-rf", "--", str(path)], capture_output=True, check=False)


def unreachable(folder: Path, ids: tuple[int, int]) -> Path | None:
    """The first of ``folder`` and its parents that uid/gid ``ids`` may not enter, or None."""
    uid, gid = ids
    for p in (folder, *folder.parents):
        st = os.stat(p)
        if not (st.st_mode & stat.S_IXOTH or (st.st_uid == uid and st.st_mode & stat.S_IXUSR)
                or (st.st_gid == gid and st.st_mode & stat.S_IXGRP)):
            return p
    return None
