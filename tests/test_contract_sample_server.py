"""The sample server against the vendor contract, checked by schemathesis (issue 20).

schemathesis draws requests for ``GET /v1/calls/{call_id}`` from the vendored OpenAPI file
(``oneinbox_nb/openapi/get-call.yaml``), sends them to the sample server (started here on
127.0.0.1, port 0) and runs its checks on every answer: the body matches the documented schema
for its status, the content type is the documented one, no 5xx. The contract documents 200 and 422
only; 401 (no or wrong key) and 404 (an unknown call) are what the real API answers too
(shared/docs/api-facts.md), so the status check allows exactly those four.

``make test`` sends at least 100 requests (a request is cheap, and each of the four statuses must
turn up); ``make fuzz`` (``HYPOTHESIS_PROFILE=fuzz``) 2,000.
"""

from __future__ import annotations

import re
import string
from importlib import resources

import pytest
from frames.contract import PROFILE
from hypothesis import given, settings
from hypothesis import strategies as st

from oneinbox_nb import sample

ALLOWED = {200, 401, 404, 422}
UUID = re.compile(r"[0-9a-fA-F]{8}-?([0-9a-fA-F]{4}-?){3}[0-9a-fA-F]{12}")


@pytest.fixture(scope="module")
def server():
    calls = sample.generate("production", seed=3, n=25)
    with sample.serve(calls=calls) as api:
        yield api, [c["id"] for c in calls]


@pytest.fixture(scope="module")
def operation():
    import schemathesis  # here, not at collection: the fast tier collects this file and skips it

    path = resources.files("oneinbox_nb").joinpath("openapi/get-call.yaml")
    schema = schemathesis.openapi.from_path(str(path))
    return schema["/v1/calls/{call_id}"]["GET"]


def test_the_sample_answers_every_contract_request_as_documented(server, operation):
    from schemathesis.specs.openapi.checks import status_code_conformance

    api, ids = server
    known = st.sampled_from(ids)
    auth = st.sampled_from(["good", "good", "none", "wrong"])
    seen: set[int] = set()

    not_uuids = st.text(string.ascii_letters + string.digits + "-_", min_size=1, max_size=40)
    which = st.sampled_from(["drawn", "known", "not_a_uuid"])

    @settings(PROFILE, max_examples=max(100, PROFILE.max_examples))
    @given(case=operation.as_strategy(), use=which, call_id=known, garbage=not_uuids, key=auth)
    def check(case, use, call_id, garbage, key):
        if use == "known":
            case.path_parameters = {"call_id": call_id}
        elif use == "not_a_uuid":
            case.path_parameters = {"call_id": garbage}
        headers = {
            "good": {"Authorization": f"Bearer {api.api_key}"},
            "wrong": {"Authorization": "Bearer oi_sk_not_the_key"},
            "none": {},
        }[key]
        response = case.call_and_validate(
            base_url=api.base_url, headers=headers, excluded_checks=[status_code_conformance]
        )
        assert response.status_code in ALLOWED, (response.status_code, case.path_parameters)
        if key != "good":
            assert response.status_code == 401
        elif use == "known":
            assert response.status_code == 200
            assert response.json()["id"] == call_id
        elif use == "not_a_uuid" and not UUID.fullmatch(garbage):
            assert response.status_code == 422  # a FastAPI UUID path parameter
        seen.add(response.status_code)

    check()
    assert {200, 401, 404, 422} <= seen
