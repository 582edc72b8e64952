"""GET /openapi.json: a valid OpenAPI 3.1 document, generated from the shared models."""

from __future__ import annotations

from typing import Any

import jsonschema
import pytest
from flask import Flask
from openapi_pydantic import OpenAPI

from api_client.models import (
    ActivityResponse,
    BulkActivityItem,
    CreateActivityRequest,
    UpdateActivityRequest,
)
from tests.sandbox import seed_examples as seed

OPERATIONS = {
    ("/api/v1/activities", "get"): "listActivities",
    ("/api/v1/activities", "post"): "createActivity",
    ("/api/v1/activities/bulk", "post"): "bulkCreateActivities",
    ("/api/v1/activities/{id}", "get"): "getActivity",
    ("/api/v1/activities/{id}", "put"): "updateActivity",
    ("/api/v1/activities/{id}", "delete"): "deleteActivity",
}


@pytest.fixture
def document(sandbox_app: Flask) -> dict[str, Any]:
    response = sandbox_app.test_client().get("/openapi.json")  # no API key needed
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    body: dict[str, Any] = response.get_json()
    return body


def _validator(document: dict[str, Any], name: str) -> jsonschema.Draft202012Validator:
    schema = {"$ref": f"#/components/schemas/{name}", "components": document["components"]}
    return jsonschema.Draft202012Validator(
        schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    )


def test_is_valid_openapi_3_1_with_every_operation(document: dict[str, Any]) -> None:
    assert document["openapi"].startswith("3.1")
    OpenAPI.model_validate(document)
    found = {
        (path, method): operation["operationId"]
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if method in ("get", "put", "post", "delete", "patch")
    }
    assert found == OPERATIONS


def test_every_route_of_the_app_is_documented(sandbox_app: Flask, document: dict[str, Any]) -> None:
    for rule in sandbox_app.url_map.iter_rules():
        if not rule.rule.startswith("/api/"):
            continue
        path = rule.rule.replace("<guid:activity_id>", "{id}")
        for method in rule.methods or ():
            if method not in ("HEAD", "OPTIONS"):
                assert (path, method.lower()) in OPERATIONS


def test_every_operation_documents_its_problems_and_needs_the_key(document: dict[str, Any]) -> None:
    assert document["components"]["securitySchemes"]["ApiKey"] == {
        "type": "apiKey",
        "in": "header",
        "name": "X-Api-Key",
    }
    assert document["security"] == [{"ApiKey": []}]
    for (path, method), _ in OPERATIONS.items():
        responses = document["paths"][path][method]["responses"]
        for status in ("401", "429", "503"):
            problem = responses[status]["content"]["application/problem+json"]["schema"]
            assert problem == {"$ref": "#/components/schemas/ProblemDetails"}
        assert "Retry-After" in responses["429"]["headers"]
        if method in ("post", "put"):
            assert {"400", "413"} <= set(responses)
            assert document["paths"][path][method]["requestBody"]["required"] is True
        if "{id}" in path:
            assert "404" in responses
    list_parameters = document["paths"]["/api/v1/activities"]["get"]["parameters"]
    assert [p["name"] for p in list_parameters] == ["limit", "offset", "updatedSince", "fields"]


@pytest.mark.parametrize(
    "model", [CreateActivityRequest, UpdateActivityRequest, BulkActivityItem, ActivityResponse]
)
def test_component_schemas_come_from_the_models(document: dict[str, Any], model: Any) -> None:
    generated = document["components"]["schemas"][model.__name__]
    expected = model.model_json_schema(by_alias=True)
    assert set(generated["properties"]) == set(expected["properties"])
    assert generated.get("required", []) == expected.get("required", [])
    assert generated.get("additionalProperties") == expected.get("additionalProperties")


@pytest.mark.parametrize("name", sorted(seed.REQUESTS))
def test_seed_requests_satisfy_the_documented_schema(document: dict[str, Any], name: str) -> None:
    _validator(document, "CreateActivityRequest").validate(seed.REQUESTS[name])


@pytest.mark.parametrize("example", [seed.CALL_ACTIVITY, seed.TASK_ACTIVITY])
def test_seed_responses_satisfy_the_documented_schema(
    document: dict[str, Any], example: dict[str, Any]
) -> None:
    _validator(document, "ActivityResponse").validate(example)
    _validator(document, "BulkCreateResponse").validate(seed.BULK_CREATE_RESPONSE)


@pytest.mark.parametrize(
    "body",
    [
        {"activityType": "note", "subject": "x", "priority": "high"},
        {"activityType": "task", "subject": "x", "callDirection": "inbound"},
        {"activityType": "call", "subject": "x", "location": "Room B"},
        {"activityType": "meeting", "subject": "x", "dueDate": "2025-07-15T17:00:00Z"},
        {"activityType": "note", "subject": "   "},
        {"activityType": "meeting", "subject": "x", "meetingUrl": "ftp://example.com"},
        {"activityType": "note", "subject": "x", "colour": "blue"},
    ],
)
def test_the_document_rejects_what_the_sandbox_rejects(
    sandbox_app: Flask, document: dict[str, Any], body: dict[str, Any]
) -> None:
    assert not _validator(document, "CreateActivityRequest").is_valid(body)
    response = sandbox_app.test_client().post(
        "/api/v1/activities", json=body, headers={"X-Api-Key": "rk_dev_sandbox_local_key"}
    )
    assert response.status_code == 400
