"""Fuzzing the agent service's OpenAPI schema with schemathesis (issue #16): whatever a client sends,
the answer is never a server error (5xx); bad input is a 4xx with a message. Runs use the reference
expert (no model), so a fuzzed run that is valid finishes in a moment."""

from __future__ import annotations

import pytest

schemathesis = pytest.importorskip("schemathesis")


def test_no_input_makes_the_service_fail(tmp_path):
    from hypothesis import HealthCheck, given, settings

    from lamforge.agents.expert import ReferenceExpert
    from lamforge.serving.agent_service import create_app
    from lamforge.serving.runs import RunStore

    app = create_app(RunStore(tmp_path / "runs.sqlite"), tmp_path / "artifacts",
                     make_agent=lambda spec, env, **_: ReferenceExpert())
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    seen: dict[str, int] = {}
    def fuzzer(operation):
        label = f"{operation.method.upper()} {operation.path}"

        @settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        @given(case=operation.as_strategy())
        def fuzz(case):
            if case.path.endswith("/events"):  # a stream of an unknown run answers 404 at once
                case.query = {**(case.query or {}), "after": 10**6}
            response = case.call()
            assert response.status_code < 500, (label, case.body, response.status_code, response.text[:300])
            seen[label] = seen.get(label, 0) + 1

        return fuzz

    for result in schema.get_all_operations():
        fuzzer(result.ok())()
    assert len(seen) >= 8 and "POST /v1/tasks" in seen, seen  # every route was fuzzed
