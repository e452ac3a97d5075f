"""Tool-calling answers: the grammar over functions with no control and structured arguments,
several calls per answer and NO_CALL, parsing back (JSON-ish literals, hallucinations), BFCL
schema conversion and the glue to BFCL's own checker (skipped when its environment is not built)."""

from __future__ import annotations

import pytest
import xgrammar as xgr
from xgrammar.testing import _is_grammar_accept_string

from lamforge.core.actions import ActionSet, ActionSpec, Param
from lamforge.core.calls import action_grammar, calls_grammar, parse_action, parse_calls
from lamforge.core.errors import ParseError
from lamforge.tools import bfcl
from lamforge.tools.calling import format_calls, read_answer, tool_messages

SPECS = [
    ActionSpec(name="get_weather", description="Weather of a city.", kind="api", params=[
        Param(name="city", type="string"), Param(name="unit", type="string", enum=["c", "f"], required=False),
        Param(name="days", type="integer", required=False)]),
    ActionSpec(name="sum_all", description="Sum numbers.", kind="api", params=[
        Param(name="values", type="array", schema_extra={"items": {"type": "number"}}),
        Param(name="options", type="object", required=False)]),
    ActionSpec(name="ping", description="No arguments.", kind="api"),
]


def _accepts(grammar: str, text: str) -> bool:
    return _is_grammar_accept_string(xgr.Grammar.from_ebnf(grammar), text)


def test_calls_grammar_accepts_typed_calls_several_lines_and_no_call():
    g = calls_grammar(ActionSet(SPECS), max_calls=2)
    assert _accepts(g, 'get_weather(city="Paris")')
    assert _accepts(g, 'get_weather(city="Paris", days=3)')  # an optional one left out in the middle
    assert _accepts(g, 'get_weather(city="Oslo", unit="f", days=2)\nping()')
    assert _accepts(g, 'sum_all(values=[1, 2.5], options={"round": true})')
    assert _accepts(g, "NO_CALL")
    assert not _accepts(g, 'get_weather(city="Paris", unit="kelvin")')  # enum
    assert not _accepts(g, "get_weather(days=3)")  # required missing
    assert not _accepts(g, 'sum_all(values=["a"])')  # typed items
    assert not _accepts(g, 'get_wether(city="Paris")')  # unknown function
    assert not _accepts(g, "ping()\nping()\nping()")  # more than max_calls
    assert not _accepts(g, "NO_CALL\nping()")
    # numbers are bounded (a forged model once wrote an 80-digit id until its token budget ran out)
    assert _accepts(g, "get_weather(city=\"Paris\", days=" + "9" * 18 + ")")
    assert not _accepts(g, "get_weather(city=\"Paris\", days=" + "9" * 19 + ")")
    assert not _accepts(g, "sum_all(values=[1." + "5" * 10 + "])")


def test_action_grammar_for_office_style_specs_is_unchanged_in_language():
    from lamforge.core.schemas import Control, Observation

    specs = ActionSet([ActionSpec(name="click", description="", kind="gui", targets_control=True),
                       ActionSpec(name="set_font", description="", kind="api", params=[
                           Param(name="name", type="string", required=False),
                           Param(name="size", type="integer", required=False)])])
    obs = Observation(request="r", state="s", controls=[Control(label=3, name="Bold", type="Button")])
    g = action_grammar(obs, specs)
    for ok in ("click(control=3)", "click(control=3) FINISH", 'set_font(name="Arial")', "set_font(size=12)",
               'set_font(name="Arial", size=12)', "FINISH"):
        assert _accepts(g, ok), ok
    for bad in ("click(control=4)", "set_font()", 'set_font(size=12, name="Arial")'):
        assert not _accepts(g, bad), bad


def test_booleans_the_grammar_writes_parse_back():
    spec = ActionSpec(name="toggle", description="", kind="api", params=[Param(name="on", type="boolean")])
    assert parse_action("toggle(on=true)", ActionSet([spec])).args == {"on": True}
    assert parse_calls("toggle(on=false)")[0].args == {"on": False}


def test_parse_calls_forms_and_errors():
    assert [a.function for a in parse_calls('a(x=1)\nmath.gcd(a=2, b=4)')] == ["a", "math.gcd"]
    assert [a.function for a in parse_calls("[f(x=1), g(y=[1, 2])]")] == ["f", "g"]
    assert parse_calls("NO_CALL") == []
    with pytest.raises(ParseError):
        parse_calls("I think the weather is nice")
    with pytest.raises(ParseError):
        parse_calls("f(x=open('/etc/passwd'))")


def test_read_answer_counts_hallucinations_and_round_trips_format_calls():
    ans = read_answer('get_weather("Paris", unit="c")\nfly(to="Rome")\nping(loud=true)', SPECS)
    assert ans.calls[0] == ("get_weather", {"city": "Paris", "unit": "c"})
    assert ans.hallucinations == ["function:fly", "parameter:ping.loud"]
    text = format_calls([("get_weather", {"days": 2, "city": "Oslo"}), ("sum_all", {"values": [1, 2.5]})], SPECS)
    assert text == 'get_weather(city="Oslo", days=2)\nsum_all(values=[1, 2.5])'
    assert read_answer(text, SPECS).calls[1] == ("sum_all", {"values": [1, 2.5]})
    assert read_answer("NO_CALL", SPECS).no_call and read_answer("garbage here", SPECS).error
    assert "get_weather(city: string" in tool_messages(SPECS, [{"role": "user", "content": "hi"}])[0]["content"]


BFCL_FN = {"name": "math.gcd", "description": "Greatest common divisor.", "parameters": {
    "type": "dict", "properties": {"a": {"type": "integer", "description": "first"},
                                   "b": {"type": "integer", "description": "second"},
                                   "weights": {"type": "tuple", "items": {"type": "float"}}},
    "required": ["a", "b"]}}


def test_bfcl_schemas_become_action_specs():
    specs, names = bfcl.to_specs([BFCL_FN])
    assert specs[0].name == "math_gcd" and names["math_gcd"][0] == "math.gcd"
    weights = specs[0].params[2]
    assert weights.type == "array" and weights.schema_extra["items"]["type"] == "number"
    q = bfcl.Question("x", "simple_python", [], [BFCL_FN], None, specs, names)
    assert bfcl.model_output(read_answer("math_gcd(a=4, b=6)", specs), q) == [{"math.gcd": {"a": 4, "b": 6}}]
    assert bfcl.model_output(read_answer("nonsense !", specs), q) is None


def _bfcl_ready() -> bool:
    try:
        bfcl.venv_python(build=False)
        return True
    except Exception:  # noqa: BLE001
        return False


@pytest.mark.skipif(not _bfcl_ready(), reason="the isolated BFCL environment is not built "
                    "(`lamforge bench bfcl` builds it; building is not part of the test run)")
def test_bfcl_scorer_glue_on_hand_made_rows():
    answer = [{"math.gcd": {"a": [4], "b": [6]}}]
    rows = [
        {"id": "right", "category": "simple_python", "function": [BFCL_FN], "possible_answer": answer,
         "model_output": [{"math.gcd": {"a": 4, "b": 6}}]},
        {"id": "wrong_value", "category": "simple_python", "function": [BFCL_FN], "possible_answer": answer,
         "model_output": [{"math.gcd": {"a": 4, "b": 7}}]},
        {"id": "unknown_param", "category": "simple_python", "function": [BFCL_FN], "possible_answer": answer,
         "model_output": [{"math.gcd": {"a": 4, "b": 6, "c": 1}}]},
        {"id": "unreadable", "category": "simple_python", "function": [BFCL_FN], "possible_answer": answer,
         "model_output": None},
        {"id": "irrelevant_ok", "category": "irrelevance", "function": [BFCL_FN], "possible_answer": None,
         "model_output": []},
        {"id": "irrelevant_called", "category": "irrelevance", "function": [BFCL_FN], "possible_answer": None,
         "model_output": [{"math.gcd": {"a": 1, "b": 1}}]},
    ]
    verdicts = {r["id"]: r["valid"] for r in bfcl.score(rows)}
    assert verdicts == {"right": True, "wrong_value": False, "unknown_param": False, "unreadable": False,
                        "irrelevant_ok": True, "irrelevant_called": False}


def test_batched_constrained_decoding_gives_the_sequential_decoders_answers(tiny_backend):
    """BFCL decodes questions in batches: each row must get exactly what one-at-a-time decoding
    gives (left padding, forced text and the token budget must not change any answer)."""
    from lamforge.models.batch_decoding import generate_constrained_batch
    from lamforge.models.decoding import Decoder

    tok = tiny_backend.tokenizer
    requests = ["Weather in Paris?", "Add up 1, 2 and 3 for me please, and then tell me the weather in Rome.",
                "ping", "What is the weather like in Seoul in Fahrenheit for the next three days?"]
    prompts = [tok.apply_chat_template(tool_messages(SPECS, [{"role": "user", "content": r}]),
                                       add_generation_prompt=True, tokenize=True, return_dict=False)
               for r in requests]
    prompts = [p if isinstance(p, list) else list(p["input_ids"]) for p in prompts]
    # a random model answers NO_CALL under the calls grammar; rows 0-1 have no way out of free text,
    # so they exercise many chosen tokens, the budget's closing and an unclosable value
    grammars = ['root ::= "get_weather(city=\\"" [a-zA-Z ]* "\\")"',
                'root ::= "sum_all(values=[" [0-9]+ ("," [0-9]+)* "])"',
                calls_grammar(ActionSet(SPECS), max_calls=2), calls_grammar(ActionSet(SPECS[:2]), max_calls=2)]
    answers = []
    for budget in (24, 6):
        batched = generate_constrained_batch(tiny_backend.model, tok, prompts, grammars, max_new_tokens=budget)
        for prompt, grammar, got in zip(prompts, grammars, batched):
            decoder = Decoder(tiny_backend.model, tok, prefix_cache=False)
            try:
                want = decoder.generate(prompt, grammar=grammar, max_new_tokens=budget).text
            except Exception as e:  # noqa: BLE001 - the batch reports the same failure in its row
                want = f"<unfinished: {e}>"
            assert got == want
            if not got.startswith("<unfinished"):
                assert read_answer(got, SPECS).error is None  # a random model still answers in calls
        answers.append(batched)
    assert len(answers[0][0]) > 24  # row 0 really decoded free text, not one forced call
    assert answers[1][1].startswith("<unfinished")  # "])" cannot close a list cut short: that row only
    assert generate_constrained_batch(tiny_backend.model, tok, [], []) == []
    with pytest.raises(ValueError):
        generate_constrained_batch(tiny_backend.model, tok, prompts, grammars[:1])


def test_batched_plans_are_the_plans_one_at_a_time(tiny_backend):
    """The planning evaluation decodes every model's plans in batches: each must be the plan the
    agent makes alone (left padding, the stop text, rows ending at different lengths)."""
    from lamforge.agents.prompting import parse_plan, plan_messages
    from lamforge.agents.react import ReactAgent
    from lamforge.envs.office.actions import OFFICE_ACTIONS
    from lamforge.envs.tasks import sample_tasks
    from lamforge.models.batch_decoding import generate_text_batch
    from lamforge.models.decoding import prompt_ids

    agent = ReactAgent(tiny_backend, OFFICE_ACTIONS, planning="start", max_plan_tokens=20)
    tasks = sample_tasks("office", 5, seed=11)
    alone = []
    for task in tasks:
        agent.task = task
        alone.append(agent._make_plan())
    prompts = [prompt_ids(tiny_backend.tokenizer, plan_messages(t.env_id, t.request)) for t in tasks]
    for size in (2, 16):
        texts = generate_text_batch(tiny_backend.model, tiny_backend.tokenizer, prompts, max_new_tokens=20,
                                    stop="\n\n", batch_size=size)
        assert [parse_plan(t) for t in texts] == alone
    assert agent.plans_for(tasks[0].env_id, [t.request for t in tasks]) == alone
