"""Typed errors.

Two families, as in Gymnasium and smolagents:

* ``ActionError`` and its children are mistakes the *model* can fix (a control that does not
  exist, an unknown function, bad arguments). Environments never let them escape ``step``: they
  come back in the next observation as ``last_action_error``.
* Everything else derived from ``LamforgeError`` is for the *user* to fix, and its message says
  what to do.
"""

from __future__ import annotations


class LamforgeError(Exception):
    """Base class of every error lamforge raises on purpose."""


# --- errors the model can fix: shown to it in the next observation ---------------------------


class ActionError(LamforgeError):
    """An action that could not be carried out; the episode goes on."""


class UnknownFunction(ActionError):
    pass


class UnknownControl(ActionError):
    pass


class BadArguments(ActionError):
    pass


class UnknownParameter(BadArguments):
    """An argument the function does not declare (a hallucinated parameter)."""


class MissingArgument(BadArguments):
    pass


class ActionNotApplicable(ActionError):
    """The action exists and is well formed but makes no sense in the current state
    (formatting with nothing selected, a dialog button after the dialog closed, ...)."""


class ParseError(ActionError):
    """Model output that is not a valid action (free-form decoding path)."""


class ToolError(ActionError):
    """A catalog tool (``lamforge.tools``) was called correctly but did not give a usable result."""


class ToolFailed(ToolError):
    """The tool raised, or its server answered with an error."""


class ToolTimeout(ToolError):
    pass


class ToolBadOutput(ToolError):
    """The tool returned something that is not JSON or breaks its declared output schema."""


# --- errors the user must fix ------------------------------------------------------------------


class EnvironmentNotFound(LamforgeError):
    pass


class TaskNotFound(LamforgeError):
    pass


class TaskFileError(LamforgeError):
    """A task or dataset file that cannot be read; the message names the file and line."""

    def __init__(self, path: object, line: int | None, reason: str):
        where = f"{path}:{line}" if line is not None else f"{path}"
        super().__init__(f"{where}: {reason}")
        self.path, self.line, self.reason = path, line, reason


class DependencyNotInstalled(LamforgeError):
    pass


class ModelNotFound(LamforgeError):
    pass


class CatalogError(LamforgeError):
    """A tool description that cannot be loaded (malformed OpenAPI document, MCP tool schema, Python
    signature); the message names the source and what is wrong."""


class BackendError(LamforgeError):
    """A model backend failed (server down, timed out, returned garbage after retries)."""


class DecodingError(LamforgeError, RuntimeError):
    """Constrained decoding could not produce a complete action (token budget spent inside a free-text
    argument, or a tokenizer/grammar mismatch). The agent turns it into a failed step, not a crash."""


class TrainingDataError(LamforgeError):
    """The rows a trainer was given cannot teach anything (e.g. every target lies past max_length)."""


class PlantError(LamforgeError):
    """Content cannot be planted where asked (``LamEnv.plant``): an unknown place, a record that does
    not exist, or a structured field (ids, e-mail addresses, amounts) that only free text may not replace."""


class InjectionCaseError(LamforgeError):
    """An injection case (``lamforge.safety.corpus``) that is unknown or malformed."""
