"""Request bodies checked against Discord's own OpenAPI description of its HTTP API.

The description is ``../shared/discord-api-spec/openapi.json`` beside the
checkout (``shared/`` next to the repository, in CI and on a developer's
machine). It is not vendored: it is Discord's file, refreshed on its own.

nextcord 2.6 differs from the description in two ways Discord accepts in
practice (named in the spec's README), and only those are let through: an
application command's ``default_member_permissions`` sent as a string of
digits, and an attachment's placeholder ``id`` sent as an integer. Everything
else that does not match is a violation.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import jsonschema

REPO_ROOT = Path(__file__).resolve().parents[2]
SPEC_PATH = REPO_ROOT.parent / "shared" / "discord-api-spec" / "openapi.json"

# Routes whose bodies are application commands (one, or a list for bulk overwrite).
COMMAND_ROUTES = re.compile(r"^/applications/[^/]+(/guilds/[^/]+)?/commands(/[^/]+)?$")


class SpecMissing(RuntimeError):
    """The OpenAPI file is not where the e2e tests expect it: they fail, they never skip."""


@dataclass(frozen=True)
class Operation:
    template: str
    pattern: re.Pattern[str]
    method: str
    schema: dict[str, Any] | None
    # The schema of a ``multipart/form-data`` body (its ``payload_json`` with the
    # ``files[n]`` parts beside it), where the route takes one.
    multipart_schema: dict[str, Any] | None = None


def _template_regex(template: str) -> re.Pattern[str]:
    # "{channel_id}" matches one path segment; "@me" and "@original" stay literal.
    parts = re.split(r"(\{[^}]+\})", template)
    body = "".join("[^/]+" if p.startswith("{") else re.escape(p) for p in parts)
    return re.compile(f"^{body}$")


class DiscordSpec:
    def __init__(self, path: Path = SPEC_PATH) -> None:
        if not path.is_file():
            raise SpecMissing(
                f"Discord's OpenAPI description is missing: expected {path} "
                "(the repository's ../shared/discord-api-spec/openapi.json). "
                "The Discord e2e tests validate every request body against it."
            )
        self.path = path

    @cached_property
    def document(self) -> dict[str, Any]:
        return json.loads(self.path.read_text())

    @cached_property
    def operations(self) -> list[Operation]:
        found: list[Operation] = []
        for template, methods in self.document["paths"].items():
            for method, operation in methods.items():
                if method not in {"get", "post", "put", "patch", "delete"}:
                    continue
                content = (operation.get("requestBody") or {}).get("content", {})
                schema = (content.get("application/json") or {}).get("schema")
                multipart = (content.get("multipart/form-data") or {}).get("schema")
                found.append(
                    Operation(
                        template, _template_regex(template), method.upper(), schema, multipart
                    )
                )
        # Literal segments before placeholders: "/messages/@original" before "/messages/{id}".
        found.sort(key=lambda op: (op.template.count("{"), -len(op.template)))
        return found

    def operation(self, method: str, path: str) -> Operation | None:
        for op in self.operations:
            if op.method == method and op.pattern.match(path):
                return op
        return None

    def _validator(
        self, op: Operation, schema: dict[str, Any], kind: str
    ) -> jsonschema.protocols.Validator:
        cache = self.__dict__.setdefault("_validators", {})
        key = (op.method, op.template, kind)
        if key not in cache:
            # "#/components/..." references resolve against the root of the schema
            # validated, so the operation's schema is given the document's components.
            cache[key] = jsonschema.Draft202012Validator(
                {**schema, "components": self.document["components"]}
            )
        return cache[key]

    def errors(self, method: str, path: str, body: Any, *, multipart: bool = False) -> list[str]:
        """Why ``body`` is not a valid request body for this route (empty when it is).

        For a ``multipart/form-data`` request ``body`` is its ``payload_json``,
        checked against the route's multipart schema, as Discord reads it.
        """
        op = self.operation(method, path)
        if op is None:
            return [f"{method} {path} is not a route of Discord's HTTP API"]
        schema, kind = (op.multipart_schema, "multipart") if multipart else (op.schema, "json")
        if schema is None:
            if multipart:
                return [f"{method} {op.template} takes no multipart/form-data body"]
            return [] if body is None else [f"{method} {op.template} takes no body"]
        body = allow_known_nextcord_differences(path, body)
        return [
            f"{'/'.join(str(p) for p in error.absolute_path) or '(body)'}: {error.message}"
            for error in self._validator(op, schema, kind).iter_errors(body)
        ][:10]


def allow_known_nextcord_differences(path: str, body: Any) -> Any:
    """A copy of ``body`` with the README's two differences put in the spec's form; no others."""
    body = json.loads(json.dumps(body))
    if COMMAND_ROUTES.match(path):
        for command in body if isinstance(body, list) else [body]:
            value = command.get("default_member_permissions") if isinstance(command, dict) else None
            if isinstance(value, str) and value.isdigit():
                command["default_member_permissions"] = int(value)
    if isinstance(body, dict):
        for holder in (body, body.get("data")):
            if isinstance(holder, dict) and isinstance(holder.get("attachments"), list):
                for attachment in holder["attachments"]:
                    if isinstance(attachment, dict) and isinstance(attachment.get("id"), int):
                        attachment["id"] = str(attachment["id"])
    return body
