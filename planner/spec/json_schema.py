"""The JSON Schema of the workload file (`planner schema`, shipped as `planner/schema.json`).

Derived from the pydantic models in `planner.spec.schema`, so it cannot drift from what the loader
accepts: the same keys, types, ranges, defaults and descriptions (the fields' docstrings). Editors
with yaml-language-server complete and check a workload file against it when the file starts with

    # yaml-language-server: $schema=<path or URL of schema.json>

Rules across fields are added where JSON Schema can state them (`RULES`: online or offline, users or
a rate, one way to give lengths, 24 profile values, no repeated values); what it cannot say, the
loader still checks: names unique after normalising, shares summing to 1, whether a name is in the
catalogue, a batch job's rate. Names
carry the catalogue's ids as `examples` (completion, not a restriction: aliases and Hugging Face ids
are accepted too) when the schema is made with a catalogue's names, as `planner schema` does.

Output is deterministic: keys keep pydantic's order (fields in declaration order), names sorted.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from planner.units import HOURS_PER_DAY
from planner.spec.schema import ProblemSpec
from planner.spec.values import CATALOG_KEYWORD

__all__ = ["SCHEMA_DIALECT", "SCHEMA_ID", "schema_text", "workload_json_schema"]

SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"
"""The JSON Schema dialect pydantic writes (draft 2020-12)."""
SCHEMA_ID = "https://planner.invalid/schema/workload.json"
"""Identifier of the schema (a name, not a place to fetch it from: the file ships with planner)."""


def workload_json_schema(names: Mapping[str, Sequence[str]] | None = None) -> dict[str, Any]:
    """The workload file's JSON Schema; `names` maps a catalogue kind (`gpu`, `model`, `precision`,
    `kv_precision`) to the ids offered as `examples` for names of that kind."""
    schema = ProblemSpec.model_json_schema(mode="validation")
    _add_rules(schema["$defs"])
    _resolve_catalog_hints(schema, names or {})
    head = {
        "$schema": SCHEMA_DIALECT,
        "$id": SCHEMA_ID,
        "title": "planner workload file",
    }
    body = {k: v for k, v in schema.items() if k != "title"}
    return {**head, **body}


def schema_text(names: Mapping[str, Sequence[str]] | None = None) -> str:
    """The schema as written to `planner/schema.json`: two-space indented JSON, UTF-8, one final newline."""
    return json.dumps(workload_json_schema(names), indent=2, ensure_ascii=False) + "\n"


def _resolve_catalog_hints(node: Any, names: Mapping[str, Sequence[str]]) -> None:
    """Replace each `x-planner-catalog: KIND` by `examples` (the sorted names of KIND), in place."""
    if isinstance(node, dict):
        kind = node.pop(CATALOG_KEYWORD, None)
        if kind is not None and names.get(kind):
            node["examples"] = sorted(set(names[kind]))
        for value in node.values():
            _resolve_catalog_hints(value, names)
    elif isinstance(node, list):
        for value in node:
            _resolve_catalog_hints(value, names)


def _present(key: str) -> dict[str, Any]:
    """`key` given, not null."""
    return {"required": [key], "properties": {key: {"not": {"type": "null"}}}}


def _absent(*keys: str) -> dict[str, Any]:
    """Each of `keys` left out or null."""
    return {"properties": {k: {"type": "null"} for k in keys}}


def _one_way_to_give_lengths() -> dict[str, Any]:
    """`planner.spec.rules.length_rules`: input_tokens with output_tokens, or lengths, or trace."""
    return {"oneOf": [
        {"allOf": [_present("input_tokens"), _present("output_tokens"), _absent("lengths", "trace")]},
        {"allOf": [_present("lengths"), _absent("input_tokens", "output_tokens", "trace")]},
        {"allOf": [_present("trace"), _absent("input_tokens", "output_tokens", "lengths")]},
    ]}


RULES: dict[str, list[dict[str, Any]]] = {
    # Workload.rules: online (`traffic` + `slo`) or offline (`batch`), never both.
    "Workload": [{"oneOf": [
        {"allOf": [_present("traffic"), _present("slo"), _absent("batch")]},
        {"allOf": [_present("batch"), _absent("traffic", "slo")]},
    ]}],
    # Traffic.rules: concurrent_users (with an optional think time) or peak_qps; one way to give lengths.
    "Traffic": [
        {"oneOf": [
            {"allOf": [_present("concurrent_users"), _absent("peak_qps")]},
            {"allOf": [_present("peak_qps"), _absent("concurrent_users"),
                       {"properties": {"think_time_s": {"anyOf": [{"type": "null"}, {"const": 0}]}}}]},
        ]},
        _one_way_to_give_lengths(),
    ],
    "BatchJob": [_one_way_to_give_lengths()],
}
"""Cross-field rules of `planner.spec.schema` stated in JSON Schema, by model (`$defs` entry); each is
an `allOf` member of that model's schema."""


def _add_rules(defs: dict[str, Any]) -> None:
    """Add `RULES`, 24 values to `traffic.profile` and `uniqueItems` to lists whose repeats the loader
    rejects; KeyError if the pydantic schema lost a key these name (the tests would fail)."""
    for model, rules in RULES.items():
        defs[model]["allOf"] = rules
    for branch in defs["Traffic"]["properties"]["profile"]["anyOf"]:
        if branch.get("type") == "array":
            branch.update(minItems=HOURS_PER_DAY, maxItems=HOURS_PER_DAY)
    defs["Planning"]["properties"]["tp_degrees"]["uniqueItems"] = True
    for branch in defs["Workload"]["properties"]["precisions"]["anyOf"]:
        if branch.get("type") == "array":
            branch["uniqueItems"] = True
