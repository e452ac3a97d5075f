"""Harvesting real functions into JSON-Schema descriptions, and running them in a sandbox."""

from __future__ import annotations

import json
import time
from typing import Literal, Optional

import pytest

from lamforge.data.fc.apis import ApiFunction, describe, harvest, parse_numpydoc, run_call, run_calls

ALLOWED = {"integer", "number", "string", "boolean", "array", "object"}


def _check_schema(fn: ApiFunction) -> None:
    params = fn.parameters
    assert params["type"] == "object" and params["properties"], fn.name
    assert set(params["required"]) <= set(params["properties"]), fn.name
    for name, prop in params["properties"].items():
        assert prop["type"] in ALLOWED, (fn.name, name)
        assert isinstance(prop["description"], str)
        if prop["type"] == "array":
            assert prop["items"]["type"] in ALLOWED, (fn.name, name)
        if "default" in prop:
            assert name not in params["required"]
    json.dumps(fn.to_json())


@pytest.fixture(scope="module")
def stdlib() -> dict[str, ApiFunction]:
    return {f.name: f for f in harvest(["math", "statistics", "bisect", "unicodedata", "difflib"])}


@pytest.fixture(scope="module")
def numpy_fns() -> dict[str, ApiFunction]:
    pytest.importorskip("numpy")
    return {f.name: f for f in harvest(["numpy", "numpy.linalg", "numpy.random"])}


def test_stdlib_functions_become_valid_schemas(stdlib):
    for fn in stdlib.values():
        _check_schema(fn)
        assert fn.description and "\n" not in fn.description and len(fn.description) <= 210
    assert list(stdlib) == sorted(stdlib)
    median = stdlib["statistics.median"]
    assert median.parameters["required"] == ["data"]
    assert median.parameters["properties"]["data"]["type"] == "array"
    assert median.source == "stdlib:statistics" and median.pure and (median.module, median.qualname) == \
        ("statistics", "median")
    gcd = stdlib["math.gcd"]
    assert gcd.to_json()["parameters"]["properties"]["integers"]["items"] == {"type": "integer"}
    assert gcd.varargs == "integers"
    assert set(gcd.to_json()) == {"name", "description", "parameters"}
    # C functions without a usable signature: math.log is read from its docstring's first line
    assert stdlib["math.log"].parameters["required"] == ["x"]
    assert stdlib["unicodedata.normalize"].parameters["properties"]["form"]["enum"] == ["NFC", "NFD", "NFKC", "NFKD"]


def test_reexports_aliases_and_excluded_modules_are_left_out(stdlib):
    assert "statistics.erf" not in stdlib and "statistics.sqrt" not in stdlib  # math's, re-exported
    assert "bisect.bisect" not in stdlib  # bisect_right under another name
    assert harvest(["os", "subprocess", "shutil", "sys"]) == []
    assert len(harvest(["math", "statistics"], limit=5)) == 5


def test_numpy_functions_are_typed_from_numpydoc(numpy_fns):
    for fn in numpy_fns.values():
        _check_schema(fn)
    lin = numpy_fns["numpy.linspace"]
    props = lin.parameters["properties"]
    assert props["start"]["type"] == props["stop"]["type"] == "number"
    assert props["num"] == {**props["num"], "type": "integer", "default": 50}
    assert props["num"]["description"] and lin.description.startswith("Return evenly spaced numbers")
    assert set(lin.parameters["required"]) == {"start", "stop"} and "dtype" not in props
    assert lin.pure and lin.source == "numpy"
    assert numpy_fns["numpy.linalg.det"].parameters["properties"]["a"]["items"]["type"] == "array"
    assert not numpy_fns["numpy.random.normal"].pure
    assert "numpy.absolute" in numpy_fns and "numpy.abs" not in numpy_fns  # one object, two names
    assert not {"numpy.save", "numpy.loadtxt", "numpy.set_printoptions", "numpy.empty"} & set(numpy_fns)
    assert "numpy.setdiff1d" in numpy_fns


def test_describe_reads_annotations_defaults_and_docstrings():
    def area(width: float, height: Optional[int] = None, unit: Literal["m", "cm"] = "m", exact=False):
        """Area of a rectangle.

        Args:
            width: Width of the rectangle.
            height: Height; the width when omitted.
        """

    def scale(values, factor=2.0):
        """Scale values by a factor.

        Parameters
        ----------
        values : array_like of int
            Numbers to scale.
        factor : float, optional
            Multiplier.
        """

    def rest(word, times):
        """Repeat a word.

        :param word: The word.
        :type word: str
        :param int times: How often.
        """

    fn = describe(area, "geo.area", "test")
    props = fn.parameters["properties"]
    assert fn.description == "Area of a rectangle." and fn.parameters["required"] == ["width"]
    assert props["width"] == {"type": "number", "description": "Width of the rectangle."}
    assert props["height"]["type"] == "integer" and "default" not in props["height"]
    assert props["unit"] == {"type": "string", "enum": ["m", "cm"], "description": "", "default": "m"}
    assert props["exact"]["type"] == "boolean"  # a bool default is not an integer
    assert fn.pure is False and (fn.module, fn.qualname) == ("geo", "area")

    props = describe(scale, "m.scale", "test").parameters["properties"]
    assert props["values"] == {"type": "array", "items": {"type": "integer"}, "description": "Numbers to scale."}
    assert props["factor"]["type"] == "number" and props["factor"]["default"] == 2.0

    props = describe(rest, "m.rest", "test").parameters["properties"]
    assert props["word"]["type"] == "string" and props["times"]["type"] == "integer"
    assert parse_numpydoc("Parameters\n----------\nx1, x2 : array_like\n    The inputs.")["x2"] == \
        ("array_like", "The inputs.")


def test_unusable_functions_are_skipped():
    def documented(x: int):
        """Do something useful."""

    def undocumented(x: int):
        pass

    def old(x: int):
        """Do something.

        .. deprecated:: 1.0
        """

    def takes_callback(func, x: int):
        """Apply func to x."""

    def no_params():
        """Return a constant."""

    def many(a: int, b: int, c: int, d: int, e: int, f: int, g: int, h: int, i: int):
        """Sum nine numbers."""

    assert describe(documented, "m.documented", "test") is not None
    assert describe(documented, "m._private", "test") is None
    for fn in (undocumented, old, takes_callback, no_params, many):
        assert describe(fn, f"m.{fn.__name__}", "test") is None, fn.__name__
    assert describe(42, "m.answer", "test") is None  # not callable: no exception either


def test_run_call_executes_in_a_child(stdlib):
    assert run_call(stdlib["math.hypot"], {"coordinates": [3, 4]}) == (True, "5.0")
    assert run_call(stdlib["math.log"], {"x": 8, "base": 2}) == (True, "3.0")  # positional-only
    ok, out = run_call(stdlib["math.sqrt"], {"x": -1})
    assert not ok and out.startswith("ValueError: ")
    impure = ApiFunction("random.random", "Random float.", {}, "stdlib:random", "random", "random", pure=False)
    with pytest.raises(ValueError):
        run_call(impure, {})


def test_run_call_kills_a_hanging_call():
    sleep = ApiFunction("time.sleep", "Delay execution.", {}, "stdlib:time", "time", "sleep", pure=True,
                        positional=("secs",))
    start = time.monotonic()
    ok, out = run_call(sleep, {"secs": 30}, timeout=0.5)
    assert not ok and out.startswith("TimeoutError") and time.monotonic() - start < 5


def test_run_calls_keeps_order_and_survives_a_crash(stdlib):
    sqrt, median = stdlib["math.sqrt"], stdlib["statistics.median"]
    results = run_calls([(sqrt, {"x": 9}), (median, {"data": []}), (median, {"data": [5, 1, 3]})])
    assert results[0] == (True, "3.0") and results[2] == (True, "3")
    assert results[1][0] is False and results[1][1].startswith("StatisticsError")
    abort = ApiFunction("os.abort", "Abort.", {}, "stdlib:os", "os", "abort", pure=True)
    results = run_calls([(sqrt, {"x": 4}), (abort, {}), (sqrt, {"x": 16})])
    assert results[0] == (True, "2.0") and results[2] == (True, "4.0")
    assert results[1][0] is False and "Crash" in results[1][1]
