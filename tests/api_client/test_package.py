"""The package's public face and its place in the import graph."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import api_client

PACKAGE = Path(api_client.__file__).parent


def test_the_public_api_of_spec_section_5_is_importable() -> None:
    from api_client import (  # noqa: F401
        ActivityResponse,
        AuthenticationError,
        BulkCreateResponse,
        CreateActivityRequest,
        NotFoundError,
        PartialActivityResponse,
        RallyClient,
        RallyConnectionError,
        RallyError,
        RateLimitError,
        ServerError,
        UpdateActivityRequest,
        ValidationError,
    )

    for name in api_client.__all__:
        assert hasattr(api_client, name), name


def test_every_error_is_a_rally_error() -> None:
    errors = [getattr(api_client.errors, n) for n in api_client.errors.__all__]
    assert len(errors) == 8
    assert all(issubclass(e, api_client.RallyError) for e in errors)
    assert all(getattr(api_client, e.__name__) is e for e in errors)
    assert {e.__name__ for e in errors if e.retryable} == {
        "RateLimitError",
        "ServerError",
        "RallyConnectionError",
    }


def test_api_client_imports_nothing_from_the_rest_of_the_project() -> None:
    forbidden = {"bot", "workers", "sandbox", "tests"}
    offenders = []
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                names = [node.module]
            offenders += [f"{path.name}: {n}" for n in names if n.split(".")[0] in forbidden]
    assert offenders == []


def test_importing_api_client_loads_none_of_the_rest() -> None:
    code = (
        "import sys, api_client; "
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'bot', 'workers', 'sandbox', 'flask'}))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=PACKAGE.parent
    )
    assert out.stdout.strip() == "[]"
