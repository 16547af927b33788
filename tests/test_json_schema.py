"""The workload file's JSON Schema (`planner schema`, shipped as planner/schema.json).

Checked with `jsonschema` (the maintained reference validator for Python) against what the loader
accepts and rejects: every shipped problem and every random valid file passes; every bad input whose
defect JSON Schema can state (a type, a range, an unknown key, a missing key, a rule in
`planner.spec.json_schema.RULES`) fails; the shipped file is what `planner schema` prints.
"""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

import jsonschema
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from test_fuzz_property import valid_files
from test_loader import specs, yaml_values

from planner.catalog.resolve import catalog_names
from planner.catalog.store import load_catalog
from planner.errors import InputError
from planner.spec.json_schema import RULES, schema_text
from planner.spec.loader import load_spec_text

REPO = Path(__file__).resolve().parents[1]
SHIPPED = REPO / "planner" / "schema.json"
BAD = REPO / "tests" / "bad_inputs"

NOT_IN_SCHEMA = {
    "duplicate_owned_gpu": "names compared after normalising ('A100 SXM 80GB' = 'a100-sxm-80gb')",
    "duplicate_precision": "names compared after normalising ('FP16' = 'fp16')",
    "duplicate_workload_name": "names compared after normalising ('Chat' = 'chat')",
    "duplicate_yaml_key": "a YAML parser keeps the last of two equal keys; the data has one",
}
"""Bad inputs whose defect JSON Schema cannot state, and why (the loader reports them)."""
NOT_DATA = {"not_utf8", "python_tag", "two_documents", "yaml_syntax", "yaml_tab_indent", "available_int_key"}
"""Bad inputs that are no JSON data at all (YAML errors, a non-string key): nothing for a schema to check."""


@pytest.fixture(scope="module")
def validator() -> jsonschema.Draft202012Validator:
    schema = json.loads(SHIPPED.read_text(encoding="utf-8"))
    return jsonschema.Draft202012Validator(schema)


def test_shipped_schema_is_current():
    """planner/schema.json is what the pydantic models and the shipped catalogue give today."""
    assert SHIPPED.read_text(encoding="utf-8") == schema_text(catalog_names(load_catalog())), (
        "planner/schema.json is stale: run `planner schema > planner/schema.json`")


def test_schema_is_valid_draft_2020_12():
    schema = json.loads(SHIPPED.read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"


def test_schema_ships_with_the_package():
    """An installed planner carries the schema next to its code (package data)."""
    assert resources.files("planner").joinpath("schema.json").read_text(encoding="utf-8") == SHIPPED.read_text(
        encoding="utf-8")


def test_cli_prints_the_shipped_schema(run_cli):
    code, out, err = run_cli(["schema"])
    assert code == 0 and err == ""
    assert out == SHIPPED.read_text(encoding="utf-8")


@pytest.mark.parametrize("path", sorted((REPO / "problems").glob("*.yaml")), ids=lambda p: p.name)
def test_every_shipped_problem_is_valid(validator, path):
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    errors = [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(data)]
    assert errors == []


@pytest.mark.parametrize("path", sorted(BAD.glob("*.yaml")), ids=lambda p: p.stem)
def test_bad_inputs_fail_where_json_schema_can_say_so(validator, path):
    """Every bad input the loader rejects fails the schema too, but for the defects listed in
    NOT_IN_SCHEMA (those pass it: the test fails if the schema starts catching one, so the list stays true)."""
    if path.stem in NOT_DATA:
        return
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    with pytest.raises(InputError):
        load_spec_text(path.read_text(encoding="utf-8"), path.name)
    assert validator.is_valid(data) is (path.stem in NOT_IN_SCHEMA)


def test_names_carry_catalogue_ids_as_examples():
    """Model, GPU and precision names offer the catalogue's ids for completion without restricting
    them (aliases and config.json paths stay valid): `examples`, never `enum`."""
    schema = json.loads(SHIPPED.read_text(encoding="utf-8"))
    workload = schema["$defs"]["Workload"]["properties"]
    cat = load_catalog()
    assert workload["model"]["examples"] == sorted(cat.models.rows)
    assert "enum" not in workload["model"]
    kv = next(b for b in workload["kv_precision"]["anyOf"] if b.get("type") == "string")
    assert set(kv["examples"]) == {p.id for p in cat.precisions.rows.values() if p.kv_capable}
    assert "x-planner-catalog" not in SHIPPED.read_text(encoding="utf-8")


def test_every_rule_names_a_model_of_the_schema():
    schema = json.loads(SHIPPED.read_text(encoding="utf-8"))
    for model, rules in RULES.items():
        assert schema["$defs"][model]["allOf"] == rules


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=specs())
def test_random_valid_specs_are_valid(validator, data):
    """Files the loader accepts (every field kind, users or a rate, online or batch) pass the schema."""
    load_spec_text(yaml.safe_dump(data, allow_unicode=True), "x.yaml")
    assert validator.is_valid(data), [e.message for e in validator.iter_errors(data)]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=valid_files())
def test_random_files_in_range_are_valid(validator, data):
    """Files with every number anywhere in its range and catalogue names pass the schema."""
    assert validator.is_valid(data), [e.message for e in validator.iter_errors(data)]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=yaml_values)
def test_the_schema_is_never_stricter_than_the_loader(validator, data):
    """Random YAML data: whatever the loader accepts, the schema accepts."""
    try:
        load_spec_text(yaml.safe_dump(data, allow_unicode=True), "x.yaml")
    except InputError:
        return
    assert validator.is_valid(data)
