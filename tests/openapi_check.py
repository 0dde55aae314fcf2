"""Validate requests and answers against Cloudflare's own API extract.

`schemas/cloudflare-aop-openapi.json` is OpenAPI 3.0; it is turned into JSON Schema (draft 7)
once (`nullable` becomes a `null` type) and every `$ref` resolves inside it. An operation is
found by matching the path templates, literal segments before parameters (`.../certificates`
wins over `.../{hostname}`).

The extract cannot be taken literally in a few places (notes §13); every workaround lives in
the section "Workarounds for notes §13" below and nowhere else.

    validate_request("PUT", "/zones/<id>/origin_tls_client_auth/hostnames", {"config": [...]})
    validate_response("GET", "/zones?name=example.com", 200, body)

Both raise `SchemaViolation` (an AssertionError); `OpenApiChecker.request_errors` and
`response_errors` return the list instead. `ValidatingTransport` wraps any httpx transport and
checks everything that passes through it. Messages never quote a private key.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx
from jsonschema import Draft7Validator, FormatChecker
from jsonschema.exceptions import ValidationError
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT7

SPEC_PATH = Path(__file__).resolve().parents[1] / "schemas" / "cloudflare-aop-openapi.json"
SPEC_URI = "urn:aopctl:cloudflare-aop-openapi"
API_PREFIX = "/client/v4"
METHODS = ("get", "put", "post", "delete", "patch")
AOP_FAILURE = "tls-certificates-and-hostnames_api-response-common-failure"
ZONE_ID = re.compile(r"[0-9a-f]{32}")
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
RFC3339 = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)")


class SchemaViolation(AssertionError):
    """A request or an answer that the extract (with the §13 workarounds) does not allow."""


@dataclass(frozen=True)
class Operation:
    method: str
    template: str
    pattern: re.Pattern[str]
    literals: int
    spec: dict[str, Any]


# ----- Workarounds for notes §13 (all of them, here) -----------------------------------------


def _patch_schemas(doc: dict[str, Any]) -> None:
    """Static corrections of the extract's schemas."""
    schemas = doc["components"]["schemas"]
    # §13.1: certificate ids are 36-character UUIDs, the shared identifier says 32. Zone ids are
    # still checked as 32 hex characters, in `_check_path_parameters`.
    schemas["tls-certificates-and-hostnames_identifier"]["maxLength"] = 36
    # §13.3: the failure envelopes write `minLength: 1` on the errors array; it means minItems.
    for name in (
        AOP_FAILURE,
        "zones_api-response-common-failure",
        "zones_api-response-common-failure-3",
    ):
        errors = schemas[name]["properties"]["errors"]
        errors["minItems"] = errors.pop("minLength")
    # §13.8: nothing is required in a PUT config item; aopctl must send all three fields.
    schemas["tls-certificates-and-hostnames_hostname_certid_input"]["required"] = [
        "hostname",
        "cert_id",
        "enabled",
    ]


def _error_answer_schema(declared: dict[str, Any]) -> dict[str, Any]:
    """§13.2: a 4XX schema `allOf(success, failure)` is unsatisfiable; keep the failure alone."""
    parts = declared.get("allOf", [])
    failures = [part for part in parts if part.get("$ref", "").endswith("-failure")]
    return failures[0] if failures else declared


def _rate_limit_body(status: int, body: Any) -> Any:
    """§13.9: a 429 carries code 971, below the extract's `minimum: 1000`; accept it there only."""
    if status != 429 or not isinstance(body, dict) or not isinstance(body.get("errors"), list):
        return body
    patched = copy.deepcopy(body)
    for error in patched["errors"]:
        if isinstance(error, dict) and error.get("code") == 971:
            error["code"] = 1000
    return patched


def _query_values(name: str, raw: str, schema: dict[str, Any]) -> tuple[list[Any], list[str]]:
    """Query strings as the values the schema describes.

    §13.5: the association list's `status` allows comma-separated values.
    §13.6: `page`/`per_page` are typed number; only integers make sense.
    """
    if schema.get("type") == "number":
        if not raw.isdigit():
            return [], [f"query {name}={raw!r} is not an integer"]
        return [int(raw)], []
    if schema.get("type") == "array" or (name == "status" and "all" in schema.get("enum", ())):
        return raw.split(","), []
    return [raw], []


def _delete_body_errors(body: Any) -> list[str]:
    """§13.7: DELETE declares a required body with no schema; the SDKs send none ({} is fine)."""
    return [] if body in (None, {}) else ["DELETE must be sent without a body"]


def _settings_body_schema(setting_id: str) -> dict[str, Any] | None:
    """§13.4: the settings PATCH `oneOf` matches every object twice; use the setting's own."""
    name = {"ssl": "zones_ssl_value", "tls_client_auth": "zones_tls_client_auth_value"}
    if setting_id not in name:
        return None
    value_ref = {"$ref": f"{SPEC_URI}#/components/schemas/{name[setting_id]}"}
    return {
        "type": "object",
        "properties": {"value": value_ref},
        "required": ["value"],
        "additionalProperties": False,
    }


# ----- OpenAPI 3.0 -> JSON Schema ------------------------------------------------------------


def _to_json_schema(node: Any) -> Any:
    """Rewrite `nullable: true` as JSON Schema and make every `$ref` absolute, so any piece of
    the extract validates on its own. Examples are data and left alone."""
    if isinstance(node, list):
        return [_to_json_schema(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {
        key: value if key in ("example", "examples") else _to_json_schema(value)
        for key, value in node.items()
    }
    if isinstance(out.get("$ref"), str) and out["$ref"].startswith("#/"):
        out["$ref"] = SPEC_URI + out["$ref"]
    if out.pop("nullable", False):
        if "enum" in out and None not in out["enum"]:
            out["enum"] = [*out["enum"], None]
        if "type" in out:
            out["type"] = [out["type"], "null"]
        elif "enum" not in out:
            out = {"anyOf": [out, {"type": "null"}]}
    return out


def _is_date_time(value: object) -> bool:
    if not isinstance(value, str):
        return True
    if not RFC3339.fullmatch(value):
        return False
    dt.datetime.fromisoformat(value.replace("Z", "+00:00"))  # raises on 2026-13-45
    return True


def _format_checker() -> FormatChecker:
    """Only `date-time` is checked (jsonschema skips it without an extra package)."""
    checker = FormatChecker(formats=())
    checker.checks("date-time", raises=ValueError)(_is_date_time)
    return checker


def _describe(where: str, error: ValidationError) -> str:
    location = "/".join(str(part) for part in error.absolute_path) or "(root)"
    if "private_key" in error.absolute_path:
        return f"{where}: {location}: fails {error.validator} (value not shown)"
    message = error.message if len(error.message) <= 240 else error.message[:240] + "..."
    return f"{where}: {location}: {message}"


class OpenApiChecker:
    def __init__(self, spec_path: Path = SPEC_PATH) -> None:
        doc = _to_json_schema(json.loads(spec_path.read_text()))
        _patch_schemas(doc)
        self.doc = doc
        resource = Resource.from_contents(doc, default_specification=DRAFT7)
        self._registry: Registry[Any] = Registry().with_resource(SPEC_URI, resource)
        self._formats = _format_checker()
        self.operations = list(_operations(doc))

    # ----- finding -------------------------------------------------------------------------

    def find(self, method: str, path: str) -> Operation | None:
        """The operation for METHOD and an API path (with or without `/client/v4`)."""
        path = path.removeprefix(API_PREFIX)
        matches = [
            op
            for op in self.operations
            if op.method == method.upper() and op.pattern.fullmatch(path)
        ]
        return max(matches, key=lambda op: op.literals, default=None)

    # ----- requests ------------------------------------------------------------------------

    def request_errors(self, method: str, path: str, body: Any) -> list[str]:
        url = urlsplit(path)
        where = f"request {method.upper()} {url.path}"
        op = self.find(method, url.path)
        if op is None:
            return [f"{where}: no such operation in the extract"]
        params = op.pattern.fullmatch(url.path.removeprefix(API_PREFIX))
        assert params is not None
        errors = self._check_path_parameters(where, op, params.groupdict())
        errors += self._check_query(where, op, parse_qsl(url.query, keep_blank_values=True))
        return errors + self._check_request_body(where, op, params.groupdict(), body)

    def _check_path_parameters(
        self, where: str, op: Operation, values: dict[str, str]
    ) -> list[str]:
        errors = []
        for name, value in values.items():
            if name == "zone_id" and not ZONE_ID.fullmatch(value):
                errors.append(f"{where}: zone_id {value!r} is not 32 hex characters")
            if name == "certificate_id" and not UUID.fullmatch(value):
                errors.append(f"{where}: certificate_id {value!r} is not a UUID")
            declared = self._parameter(op, "path", name)
            if declared is not None:
                errors += self._errors(where + f" path {name}", declared["schema"], value)
        return errors

    def _check_query(self, where: str, op: Operation, pairs: list[tuple[str, str]]) -> list[str]:
        errors = []
        for name, raw in pairs:
            declared = self._parameter(op, "query", name)
            if declared is None:
                errors.append(f"{where}: query parameter {name!r} is not declared")
                continue
            schema = self._resolved(declared["schema"])
            values, problems = _query_values(name, raw, schema)
            errors += [f"{where}: {problem}" for problem in problems]
            item_schema = schema.get("items", schema) if schema.get("type") == "array" else schema
            for value in values:
                errors += self._errors(f"{where} query {name}", item_schema, value)
        return errors

    def _check_request_body(
        self, where: str, op: Operation, params: dict[str, str], body: Any
    ) -> list[str]:
        if op.method == "DELETE":
            return [f"{where}: {e}" for e in _delete_body_errors(body)]
        if op.method == "PATCH" and "setting_id" in params:
            schema = _settings_body_schema(params["setting_id"])
            if schema is None:
                return [f"{where}: setting {params['setting_id']!r} is outside the extract"]
            return self._errors(where + " body", schema, body)
        declared = op.spec.get("requestBody")
        if declared is None:
            return [] if body is None else [f"{where}: this operation takes no body"]
        if body is None:
            return [f"{where}: a JSON body is required"] if declared.get("required") else []
        return self._errors(
            where + " body", declared["content"]["application/json"]["schema"], body
        )

    # ----- answers -------------------------------------------------------------------------

    def response_errors(self, method: str, path: str, status: int, body: Any) -> list[str]:
        url = urlsplit(path)
        where = f"answer {status} to {method.upper()} {url.path}"
        op = self.find(method, url.path)
        failure = {"$ref": f"{SPEC_URI}#/components/schemas/{AOP_FAILURE}"}
        if status >= 500:  # no 5XX is declared; a JSON one must still be a failure envelope
            return [] if body is None else self._errors(where, failure, body)
        if body is None:
            return [f"{where}: the body is not JSON"]
        if op is None:
            if status < 400:
                return [f"{where}: success for an operation the extract does not have"]
            return self._errors(where, failure, _rate_limit_body(status, body))
        if 200 <= status < 300:
            schema = op.spec["responses"]["200"]["content"]["application/json"]["schema"]
            return self._errors(where, schema, body)
        declared = op.spec["responses"]["4XX"]["content"]["application/json"]["schema"]
        return self._errors(where, _error_answer_schema(declared), _rate_limit_body(status, body))

    # ----- raising forms -------------------------------------------------------------------

    def validate_request(self, method: str, path: str, body: Any) -> None:
        _raise(self.request_errors(method, path, body))

    def validate_response(self, method: str, path: str, status: int, body: Any) -> None:
        _raise(self.response_errors(method, path, status, body))

    # ----- plumbing ------------------------------------------------------------------------

    def _errors(self, where: str, schema: dict[str, Any], instance: Any) -> list[str]:
        validator = Draft7Validator(schema, registry=self._registry, format_checker=self._formats)
        found = sorted(validator.iter_errors(instance), key=lambda e: list(e.absolute_path))
        return [_describe(where, error) for error in found]

    def _resolved(self, schema: dict[str, Any]) -> dict[str, Any]:
        while "$ref" in schema:
            pointer = schema["$ref"].removeprefix(SPEC_URI + "#/").split("/")
            node: Any = self.doc
            for part in pointer:
                node = node[part.replace("~1", "/").replace("~0", "~")]
            schema = node
        return schema

    def _parameter(self, op: Operation, where: str, name: str) -> dict[str, Any] | None:
        for declared in op.spec.get("parameters", []):
            if declared["in"] == where and declared["name"] == name:
                parameter: dict[str, Any] = declared
                return parameter
        return None


def _operations(doc: dict[str, Any]) -> Iterator[Operation]:
    for template, item in doc["paths"].items():
        regex = re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", template)
        literals = sum(1 for part in template.split("/") if part and not part.startswith("{"))
        for method in METHODS:
            if method in item:
                yield Operation(method.upper(), template, re.compile(regex), literals, item[method])


def _raise(errors: list[str]) -> None:
    if errors:
        raise SchemaViolation("\n".join(errors))


@cache
def default_checker() -> OpenApiChecker:
    return OpenApiChecker()


def validate_request(method: str, path: str, body: Any) -> None:
    default_checker().validate_request(method, path, body)


def validate_response(method: str, path: str, status: int, body: Any) -> None:
    default_checker().validate_response(method, path, status, body)


def _json_or_none(content: bytes) -> Any:
    if not content:
        return None
    try:
        return json.loads(content)
    except ValueError:
        return None


class ValidatingTransport(httpx.BaseTransport):
    """Checks every request and answer passing through `inner`.

    A violation raises `SchemaViolation` at once and is also kept in `violations`, so a test
    fixture can fail even when the code under test swallowed the exception.
    """

    def __init__(
        self,
        inner: httpx.BaseTransport,
        checker: OpenApiChecker | None = None,
        *,
        check_requests: bool = True,
    ) -> None:
        self.inner = inner
        self.checker = checker or default_checker()
        self.check_requests = check_requests  # False: send invalid requests on purpose
        self.violations: list[str] = []
        self.exchanges = 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        target = request.url.path + (f"?{request.url.query.decode()}" if request.url.query else "")
        content = request.read()
        body = _json_or_none(content)
        errors = self.checker.request_errors(request.method, target, body)
        if content and body is None:
            errors.append(f"request {request.method} {request.url.path}: body is not JSON")
        if self.check_requests:
            self._fail_on(errors)
        response = self.inner.handle_request(request)
        response.read()
        answer = _json_or_none(response.content)
        if answer is None and response.status_code < 500:
            errors = [f"answer {response.status_code} to {request.url.path}: body is not JSON"]
        else:
            errors = self.checker.response_errors(
                request.method, target, response.status_code, answer
            )
        self._fail_on(errors)
        self.exchanges += 1
        return response

    def _fail_on(self, errors: list[str]) -> None:
        if errors:
            self.violations.extend(errors)
            raise SchemaViolation("\n".join(errors))

    def close(self) -> None:
        self.inner.close()
