"""Schemathesis against a live ``web`` process: whatever it is sent, it never answers 500,
and every answer's status, content type, headers and body are the ones /openapi.json
documents."""

from __future__ import annotations

import base64

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.generation.modes import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from webhook.api.operations import OPERATIONS

from ..support import API_KEY
from .stack import running_stack

HOOK_USER, HOOK_PASSWORD = "platform", "hook-secret"
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]


@pytest.fixture(scope="module")
def live_web(tmp_path_factory):
    with running_stack(
        tmp_path_factory.mktemp("api"),
        workers=0,
        HOOKRELAY_HOOK_USER=HOOK_USER,
        HOOKRELAY_HOOK_PASSWORD=HOOK_PASSWORD,
        FREQUENCY_CAP="3",
    ) as stack:
        yield stack


@pytest.fixture(scope="module")
def api_schema(live_web):
    return schemathesis.openapi.from_url(f"{live_web.http.base_url}/openapi.json")


def credentials(path: str) -> str:
    if path.startswith("/v1/hooks/"):
        pair = base64.b64encode(f"{HOOK_USER}:{HOOK_PASSWORD}".encode()).decode()
        return f"Basic {pair}"
    return f"Bearer {API_KEY}"


#: Streams end only when their client leaves (or after an hour): their answers are
#: checked where they are read (tests/e2e/test_procfile_stack.py).
STREAMS = {"/v1/tail"}


@pytest.mark.parametrize("mode", list(GenerationMode))
@pytest.mark.parametrize(
    ("method", "path"),
    [
        (method.upper(), path)
        for path, operations in OPERATIONS.items()
        if path not in STREAMS
        for method in operations
    ],
)
def test_every_answer_is_documented(api_schema, live_web, method, path, mode):
    operation = api_schema[path][method]
    if mode is GenerationMode.NEGATIVE and not (
        operation.path_parameters or operation.query or operation.body
    ):
        pytest.skip("nothing in this operation's request can be invalid")
    headers = {"Authorization": credentials(path)}

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(max_examples=100, deadline=None, suppress_health_check=list(HealthCheck))
    def answers_as_documented(case):
        response = case.call(base_url=str(live_web.http.base_url), headers=headers)
        case.validate_response(response, checks=CHECKS, headers=headers)

    answers_as_documented()
