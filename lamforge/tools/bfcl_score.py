"""Score answers with BFCL's own AST checker. Runs INSIDE the isolated bfcl-eval virtual
environment (``python bfcl_score.py IN.jsonl OUT.jsonl``), so it imports nothing from lamforge.

Input rows: ``{"id", "category", "function": [BFCL schemas], "possible_answer": [...],
"model_output": [{"fn": {"arg": value}}] | null}`` (null: the answer was not readable as calls).
Output rows: ``{"id", "valid": bool, "error": str}``. Irrelevance rows (no possible answer) are
correct when the model made no call, as in BFCL's own irrelevance check.
"""

from __future__ import annotations

import json
import sys


def main(src: str, dst: str) -> None:
    from bfcl_eval.constants.enums import Language
    from bfcl_eval.constants.model_config import MODEL_CONFIG_MAPPING
    from bfcl_eval.eval_checker.ast_eval.ast_checker import ast_checker

    # Our answers already use BFCL's original (dotted) function names, so pick a model entry that
    # does not ask the checker to turn "_" back into "."
    model_name = next(k for k, v in MODEL_CONFIG_MAPPING.items() if not v.underscore_to_dot).replace("/", "_")
    with open(src, encoding="utf-8") as f, open(dst, "w", encoding="utf-8") as out:
        for line in f:
            row = json.loads(line)
            output = row["model_output"]
            if "irrelevance" in row["category"]:
                valid = not output
                result = {"valid": valid, "error": "" if valid else "made a call on an irrelevant request"}
            elif not output:
                result = {"valid": False, "error": "no call" if output == [] else "answer not readable as calls"}
            else:
                try:
                    checked = ast_checker(row["function"], output, row["possible_answer"], Language.PYTHON,
                                          row["category"], model_name)
                    result = {"valid": bool(checked["valid"]), "error": "; ".join(map(str, checked.get("error", [])))}
                except Exception as e:  # noqa: BLE001 - a checker crash on odd output counts as wrong
                    result = {"valid": False, "error": f"checker raised {type(e).__name__}: {e}"}
            out.write(json.dumps({"id": row["id"], **result}) + "\n")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
