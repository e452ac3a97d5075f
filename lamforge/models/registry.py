"""Forged models, registered by name in the user's lamforge home: ``office/lam2`` is the folder
``$LAMFORGE_HOME/forged/office/lam2``. Every ``--model`` option takes such a name, a path, a base
model name or ``openai:NAME``.

    lamforge models
"""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

from lamforge.config import lamforge_home


def forged_root() -> Path:
    return lamforge_home() / "forged"


def register(name: str, model_dir: str | Path, meta: dict | None = None) -> Path:
    """Copy a trained model folder into the registry as ``name`` (e.g. ``office/lam2``)."""
    if name.count("/") != 1 or any(not part or part.startswith(".") for part in name.split("/")):
        raise ValueError(f"a forged model name is ENV/NAME, e.g. office/lam2; got {name!r}")
    dest = forged_root() / name
    tmp = dest.with_name(f".{dest.name}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    shutil.copytree(model_dir, tmp)
    (tmp / "lamforge-model.json").write_text(json.dumps({"name": name, "registered_at": time.time(),
                                                         "source": str(model_dir), **(meta or {})}, indent=2))
    if dest.exists():
        shutil.rmtree(dest)
    tmp.rename(dest)
    return dest


def resolve(name: str) -> Path | None:
    """The folder of a registered model, or None when ``name`` is not one."""
    path = forged_root() / name
    return path if name.count("/") == 1 and (path / "lamforge-model.json").is_file() else None


def forged_models() -> list[dict]:
    out = []
    for meta_file in sorted(forged_root().glob("*/*/lamforge-model.json")):
        meta = json.loads(meta_file.read_text())
        out.append({"name": meta["name"], "path": str(meta_file.parent), **{k: v for k, v in meta.items()
                                                                            if k not in ("name",)}})
    return out
