"""Fuzz the REST API with schemathesis against the project's own OpenAPI schema: no 5xx, and
every answer (status, content type, body) matches the schema."""

import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e
CHECKS = ",".join(
    (
        "not_a_server_error",
        "status_code_conformance",
        "content_type_conformance",
        "response_schema_conformance",
    )
)


def test_api_matches_its_schema_under_fuzzing(daphne):
    # No capture: a fuzzed `url` must never make the server resolve or fetch anything.
    server = daphne(CLONEGEN_RATE_LIMIT="off", CLONEGEN_URL_CAPTURE="0")
    schemathesis = Path(sys.executable).with_name("schemathesis")
    result = subprocess.run(
        [
            str(schemathesis),
            "run",
            f"{server.base_url}/api/schema?format=json",
            "--checks",
            CHECKS,
            "--max-examples",
            "30",
            "--generation-deterministic",
            "--request-timeout",
            "30",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
    assert "passed" in result.stdout
    assert "Internal Server Error" not in server.read_log()
