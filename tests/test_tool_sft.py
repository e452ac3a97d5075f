"""Retrieval-aware function-calling SFT: rows carry the retrieved functions' docs and the call (or
NO_CALL when the right function was taken out), labels sit on the answer only, and the trained
model is registered and answers under the calls grammar."""

from __future__ import annotations

import pytest

from lamforge.core.errors import LamforgeError
from lamforge.training.rows import IGNORE, conversation_row


@pytest.fixture(autouse=True)
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("LAMFORGE_HOME", str(tmp_path / "home"))


@pytest.fixture(scope="module")
def examples(tmp_path_factory):
    from lamforge.data.tool_calls import generate
    from lamforge.training.tool_sft import verified_examples

    folder = tmp_path_factory.mktemp("tool-calls")
    generate("service", 10, folder)
    return verified_examples(folder)


def _labelled(tok, row) -> str:
    return tok.decode([i for i, label in zip(row["input_ids"], row["labels"]) if label != IGNORE])


def test_labels_land_on_the_reply_not_on_the_same_text_earlier(tiny_backend):
    """'NO_CALL' is in the system prompt and an action may repeat in the history: the loss must be
    on the assistant's own words."""
    tok = tiny_backend.tokenizer
    messages = [{"role": "system", "content": "If nothing fits, reply NO_CALL."},
                {"role": "user", "content": "Fly me to the moon."},
                {"role": "assistant", "content": "NO_CALL"},
                {"role": "user", "content": "Again: NO_CALL, or not?"},
                {"role": "assistant", "content": "NO_CALL"}]
    row = conversation_row(tok, messages)
    assert _labelled(tok, row).replace("\n", "") == "NO_CALL<|im_end|>NO_CALL<|im_end|>"
    first_label = next(i for i, label in enumerate(row["labels"]) if label != IGNORE)
    assert "Fly me to the moon" in tok.decode(row["input_ids"][:first_label])
    assert len(row["action_spans"]) == 2


def test_rows_offer_the_retrieved_docs_and_answer_the_call_or_no_call(tiny_backend, examples):
    from lamforge.envs import action_set_of
    from lamforge.training.tool_sft import tool_call_rows

    tok, actions = tiny_backend.tokenizer, action_set_of("service")
    calls = tool_call_rows(tok, examples, actions, no_call_share=0.0)
    refusals = tool_call_rows(tok, examples, actions, no_call_share=1.0)
    assert len(calls) == len(refusals) == len(examples) > 0
    for ex, call_row, refusal in zip(examples, calls, refusals):
        fn = ex.steps[0].action.function
        answer = _labelled(tok, call_row)
        assert answer.startswith(f"{fn}(") and ex.task.request not in answer
        prompt = tok.decode(call_row["input_ids"])
        assert f"- {fn}(" in prompt and ex.task.request in prompt  # the right function's docs are offered
        assert sum(f"- {c.name}(" in prompt for c in ex.steps[0].observation.controls) >= 8  # among the retrieved
        assert _labelled(tok, refusal).startswith("NO_CALL")
        assert f"- {fn}(" not in tok.decode(refusal["input_ids"])  # taken out: nothing offered can do it


def test_no_data_is_a_clear_error(tmp_path):
    from lamforge.training.tool_sft import verified_examples

    with pytest.raises(LamforgeError, match="collect tool-calls"):
        verified_examples(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(LamforgeError, match="no verified"):
        verified_examples(tmp_path / "empty")


def test_train_tool_calls_registers_a_model_that_answers_in_calls(tiny_model_dir, examples, tmp_path):
    from lamforge.envs import action_set_of
    from lamforge.models import load_backend
    from lamforge.training.recipe import load_recipe
    from lamforge.training.tool_sft import train_tool_calls

    rec = load_recipe("quick", ["tool_calls.learning_rate=0.003", "tool_calls.freeze_layers=0",
                                "tool_calls.num_train_epochs=4", "tool_calls.logging_steps=1"])
    summary = train_tool_calls(rec, examples_dir(examples, tmp_path), tmp_path / "tools", env="service",
                               base_model=str(tiny_model_dir), register_as="service/tools")
    assert summary["examples"] == len(examples) and summary["last_loss"] < summary["first_loss"]
    backend = load_backend("service/tools")
    from lamforge.tools.bfcl import Question, _constrained

    specs = [action_set_of("service").get(n) for n in ("get_order", "cancel_order")]
    q = Question("q", "simple", [{"role": "user", "content": "Cancel order 4417."}], [], None, specs)
    (text,) = _constrained(backend, [q], batch_size=2, max_tokens=16, progress=None)
    assert text == "NO_CALL" or text.split("(")[0] in ("get_order", "cancel_order")
    again = train_tool_calls(rec, examples_dir(examples, tmp_path), tmp_path / "tools", env="service",
                             base_model=str(tiny_model_dir))
    assert again.get("skipped")


def examples_dir(examples, tmp_path):
    """The fixture's store folder (the examples were read from it)."""
    from lamforge.core.schemas import Trajectory
    from lamforge.data.store import RecordStore

    folder = tmp_path / "store"
    if not folder.exists():
        with RecordStore(folder, Trajectory, key_fn=lambda t: t.task.id) as store:
            for t in examples:
                store.append(t)
    return folder
