"""Where lamforge keeps its files: ``lamforge_home() / "models"`` and so on.

``LAMFORGE_HOME`` overrides the default ``~/.cache/lamforge``.
"""

from __future__ import annotations

import os
from pathlib import Path


def lamforge_home() -> Path:
    """The user's lamforge cache folder (not created here)."""
    env = os.environ.get("LAMFORGE_HOME")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "lamforge"
