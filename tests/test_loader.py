"""The workload file: the spec's example loads as written, every bad input gets its exact located
message (goldens in tests/bad_inputs/), and property tests show the loader never fails with
anything but an InputError."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from planner.errors import InputError
from planner.spec.fields import allowed_keys, field_reference
from planner.spec.loader import LoadedSpec, load_spec, load_spec_text
from planner.spec.schema import ProblemSpec, Workload

REPO = Path(__file__).resolve().parent.parent
BAD = REPO / "tests" / "bad_inputs"

EXAMPLE = """\
name: chat-50-users-qwen-7b
description: 50 people chatting with Qwen-7B at once (seed 001)
objective: rent              # rent | buy | compare (compare is completed by the cost issue)
horizon_months: 36           # how long bought hardware is used
gpus:                        # all optional: filters on the catalogue
  allow: [any]               # catalogue ids or aliases, or any
  deny: []
  datacenter_only: false     # true drops GeForce cards (their licence forbids datacentres)
  market: global             # global | china
budget:                      # optional
  capex_usd: 100000
  monthly_usd: 8000
power_kw_max: 20             # optional: facility power, PUE included
owned:                       # optional: GPUs already on hand (no capex; power still counts)
  - gpu: a100-sxm-80gb
    count: 4
workloads:
  - name: chat
    model: qwen-7b           # catalogue id or alias, or a path to a Hugging Face config.json
    precisions: [fp16, int8, int4]   # optional; default: every precision the model and GPU allow
    kv_precision: fp16       # optional
    traffic:
      concurrent_users: 50   # or peak_qps; users convert to a request rate by Little's law
      think_time_s: 10
      input_tokens: 512      # mean per request
      output_tokens: 256
    slo:
      ttft_ms: 800
      tpot_ms: 50
    min_replicas: 2          # optional: redundancy
  - name: nightly-summaries
    model: llama-3.1-8b
    batch:                   # offline work instead of traffic and slo
      requests: 100000
      input_tokens: 2000
      output_tokens: 200
      deadline_hours: 8
"""
"""The workload file from the spec, verbatim."""


@pytest.fixture
def example() -> LoadedSpec:
    return load_spec_text(EXAMPLE, "problems/example.yaml")


def test_spec_example_loads_as_written(example):
    """Every value of the example, and every default it leaves out. YAML ints given for float
    fields (capex 100000, power 20, ttft 800) arrive as floats."""
    s = example.spec
    assert (s.name, s.description) == ("chat-50-users-qwen-7b", "50 people chatting with Qwen-7B at once (seed 001)")
    assert (s.objective, s.horizon_months, s.power_kw_max) == ("rent", 36, 20.0)
    assert isinstance(s.power_kw_max, float) and isinstance(s.budget.capex_usd, float)
    g = s.gpus
    assert (g.allow, g.deny, g.datacenter_only, g.market, g.available) == (["any"], [], False, "global", {})
    assert (s.budget.capex_usd, s.budget.monthly_usd) == (100000.0, 8000.0)
    assert [(o.gpu, o.count) for o in s.owned] == [("a100-sxm-80gb", 4)]
    # defaults of the sections the example leaves out
    assert (s.rent.pricing, s.rent.providers, s.rent.include_marketplace) == ("on_demand", ["any"], False)
    p = s.planning
    assert (p.max_utilization, p.tp_degrees, p.mem_utilization, p.max_num_seqs) == (0.9, [1, 2, 4, 8], 0.9, 256)

    chat, nightly = s.workloads
    assert (chat.name, chat.model, chat.precisions, chat.kv_precision) == ("chat", "qwen-7b", ["fp16", "int8", "int4"], "fp16")
    assert chat.kind == "traffic" and chat.batch is None
    t = chat.traffic
    assert (t.concurrent_users, t.think_time_s, t.peak_qps, t.input_tokens, t.output_tokens) == (50, 10.0, None, 512, 256)
    assert (chat.slo.ttft_ms, chat.slo.tpot_ms) == (800.0, 50.0)
    assert (chat.min_replicas, chat.max_utilization) == (2, None)
    assert (chat.demand.input_tokens, chat.demand.output_tokens) == (512, 256)

    assert (nightly.name, nightly.model, nightly.precisions, nightly.kv_precision) == ("nightly-summaries", "llama-3.1-8b", None, None)
    assert nightly.kind == "batch" and nightly.traffic is None and nightly.slo is None
    b = nightly.batch
    assert (b.requests, b.input_tokens, b.output_tokens, b.deadline_hours) == (100000, 2000, 200, 8.0)
    assert (nightly.min_replicas, nightly.max_utilization) == (1, None)
    assert (nightly.demand.input_tokens, nightly.demand.output_tokens) == (2000, 200)


def test_effective_max_utilization():
    """A workload's own max_utilization overrides planning.max_utilization (0.8 by default)."""
    spec = load_spec_text(EXAMPLE.replace("    min_replicas: 2", "    min_replicas: 2\n    max_utilization: 0.6"),
                          "x.yaml").spec
    assert spec.max_utilization_for("chat") == 0.6
    assert spec.max_utilization_for(spec.workloads[1]) == 0.9


@pytest.mark.parametrize(
    "key_path, line_col",
    [
        (("name",), (1, 7)),
        (("gpus", "market"), (9, 11)),
        (("owned", 0, "count"), (16, 12)),
        (("workloads", 0, "slo", "tpot_ms"), (29, 16)),
        (("workloads", 0, "precisions", 2), (20, 30)),
        (("workloads", 1, "batch", "deadline_hours"), (37, 23)),
        (("workloads", 1, "batch"), (34, 7)),  # a section: its first key
        (("workloads", 1, "slo"), (31, 5)),  # absent: the nearest parent (workloads[1])
        (("planning", "tp_degrees"), (1, 1)),  # whole section absent: the document
    ],
)
def test_where_points_at_the_value(example, key_path, line_col):
    """where() gives the 1-based line and column of the value at a key path (lines of EXAMPLE)."""
    assert example.where(*key_path) == line_col


def test_problem_for_later_steps(example):
    """LoadedSpec.problem locates a problem found after loading (e.g. an unknown model name)."""
    p = example.problem(("workloads", 1, "model"), "unknown model 'llama-3.1-8b'", "a catalogue model")
    assert str(p) == ("problems/example.yaml:32:12: workloads[1].model: unknown model 'llama-3.1-8b'; "
                      "expected a catalogue model")
    assert str(example.problem(("workloads", 0, "traffic"), "no GPU serves it")) == (
        "problems/example.yaml:22:5: workloads[0].traffic: no GPU serves it")


def test_spec_built_in_code_has_unlocated_problems(example):
    """A LoadedSpec made without a file still names the key path in its problems."""
    loaded = LoadedSpec(example.spec, "<code>", Path("."))
    assert loaded.where("workloads", 0) == (None, None)
    assert str(loaded.problem(("workloads", 0, "model"), "unknown model")) == "<code>: workloads[0].model: unknown model"


def test_load_spec_from_file(tmp_path, monkeypatch):
    """load_spec keeps the path as named and exposes the file's directory for relative config paths."""
    (tmp_path / "problems").mkdir()
    (tmp_path / "problems" / "chat.yaml").write_text(EXAMPLE, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    loaded = load_spec("problems/chat.yaml")
    assert loaded.path == "problems/chat.yaml"
    assert loaded.base_dir == Path("problems")
    assert loaded.spec == load_spec_text(EXAMPLE, "other.yaml").spec


def test_missing_file_is_input_error(tmp_path):
    path = tmp_path / "nowhere.yaml"
    with pytest.raises(InputError) as exc:
        load_spec(path)
    assert str(exc.value).startswith(f"{path}: cannot read file")


# ---------------------------------------------------------------------------------------------
# Bad inputs: one defect per file, the exact message in NAME.expected
# ---------------------------------------------------------------------------------------------

BAD_NAMES = sorted(p.stem for p in BAD.glob("*.yaml"))


@pytest.mark.parametrize("name", BAD_NAMES)
def test_bad_input_message(name, monkeypatch, update_golden):
    """Each bad file gives exactly its golden lines (`file:line:col: key.path: message; expected
    ...`), loaded by its path relative to the repository root. `--update-golden` rewrites them."""
    monkeypatch.chdir(REPO)
    with pytest.raises(InputError) as exc:
        load_spec(f"tests/bad_inputs/{name}.yaml")
    got = "\n".join(exc.value.lines()) + "\n"
    golden = BAD / f"{name}.expected"
    if update_golden:
        golden.write_text(got, encoding="utf-8")
    assert golden.exists(), f"no golden for {name}: run pytest --update-golden"
    assert got == golden.read_text(encoding="utf-8")


def test_every_golden_has_its_yaml():
    assert sorted(p.stem for p in BAD.glob("*.expected")) == BAD_NAMES
    assert len(BAD_NAMES) >= 16


def test_several_defects_all_reported_in_file_order(monkeypatch):
    monkeypatch.chdir(REPO)
    with pytest.raises(InputError) as exc:
        load_spec("tests/bad_inputs/several_defects.yaml")
    lines = [p.line for p in exc.value.problems]
    assert len(lines) >= 8 and lines == sorted(lines)


def test_rules_hold_without_the_loader():
    """Building the models directly enforces the same rules (here: both traffic and batch)."""
    data = yaml.safe_load(EXAMPLE)
    data["workloads"][1]["traffic"] = data["workloads"][0]["traffic"]
    with pytest.raises(ValidationError) as exc:
        ProblemSpec.model_validate(data)
    assert [e["loc"] for e in exc.value.errors()] == [("workloads", 1, "batch")]
    with pytest.raises(ValidationError):
        Workload(name="w", model="m")


def test_field_reference_documents_every_field():
    """Every field of every section has a row with a type, a default and a description."""
    rows = field_reference()
    paths = [r[0] for r in rows]
    assert len(paths) == len(set(paths))
    for path, type_, default, description in rows:
        assert type_ and default and description, path
    assert ("planning.max_utilization", "number in [0.1, 1]", "0.9") == rows[paths.index("planning.max_utilization")][:3]
    assert rows[paths.index("workloads[].slo.tpot_ms")][1:3] == ("number in [0.1, 86400000]", "required")
    assert "workloads[].traffic.think_time_s" in paths and "owned[].count" in paths


# ---------------------------------------------------------------------------------------------
# Properties
# ---------------------------------------------------------------------------------------------

MINIMAL = {"name": "p", "workloads": [{"name": "w", "model": "m", "batch": {
    "requests": 1, "input_tokens": 1, "output_tokens": 1, "deadline_hours": 1}}]}
SECTIONS = [(), ("gpus",), ("planning",), ("workloads", 0), ("workloads", 0, "batch")]

scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=10))
yaml_values = st.recursive(scalars, lambda kids: st.one_of(
    st.lists(kids, max_size=3), st.dictionaries(st.text(max_size=5), kids, max_size=3)), max_leaves=8)


def _section(data: dict, path: tuple) -> dict:
    for part in path:
        data = data.setdefault(part, {}) if isinstance(part, str) else data[part]
    return data


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(section=st.sampled_from(SECTIONS),
       extra=st.dictionaries(st.text(min_size=1, max_size=12), yaml_values, min_size=1, max_size=4))
def test_unknown_keys_are_input_errors(section, extra):
    """Random unknown keys in any section: an InputError naming each of them, nothing else."""
    data = copy.deepcopy(MINIMAL)
    target = _section(data, section)
    extra = {k: v for k, v in extra.items() if k not in allowed_keys(section)}
    if not extra:
        return
    target.update(extra)
    with pytest.raises(InputError) as exc:
        load_spec_text(yaml.safe_dump(data, allow_unicode=True), "fuzz.yaml")
    problems = exc.value.problems
    assert len(problems) == len(extra)
    assert all(p.message.startswith("unknown key") and p.line for p in problems)


@settings(max_examples=200, deadline=None)
@given(data=st.one_of(yaml_values, st.dictionaries(st.sampled_from(sorted(ProblemSpec.model_fields)), yaml_values)))
def test_any_yaml_data_loads_or_is_input_error(data):
    """Whatever YAML data (random keys of the schema, random values): a spec or an InputError."""
    try:
        load_spec_text(yaml.safe_dump(data, allow_unicode=True), "fuzz.yaml")
    except InputError as exc:
        assert exc.problems and all(p.file == "fuzz.yaml" for p in exc.problems)


@settings(max_examples=200, deadline=None)
@given(text=st.text(max_size=200))
def test_any_text_loads_or_is_input_error(text):
    try:
        load_spec_text(text, "fuzz.yaml")
    except InputError as exc:
        assert exc.problems


printable = st.characters(blacklist_categories=("Cc", "Cs", "Zl", "Zp"))
"""Characters PyYAML writes and reads back unchanged (it folds control and line-break characters)."""
@settings(max_examples=200, deadline=None)
@given(tag=st.sampled_from(["!!int", "!!float", "!!bool", "!!null", "!!timestamp", "!!binary", "!!str", "!!map",
                            "!!seq", "!!set", "!!omap", "!!pairs", "!!python/name:os.system", "!custom"]),
       value=st.sampled_from(["abc", "2024-13-45", "maybe", "[1]", "{a: 1}", "1.5", "", "0x1G", "=", "~"]),
       as_key=st.booleans())
def test_tagged_values_load_or_are_input_errors(tag, value, as_key):
    """Explicit tags on values they cannot convert (`!!int abc`): located InputErrors, never a crash."""
    text = f"{tag} {value}: 1\n" if as_key else f"name: {tag} {value}\n"
    try:
        load_spec_text(text, "fuzz.yaml")
    except InputError as exc:
        assert exc.problems


names = st.from_regex(r"[a-z][a-z0-9]{0,8}", fullmatch=True)
pos_float = st.floats(min_value=1.0, max_value=8000.0)  # inside every float field's range (deadline <= 8,760 h)
fraction = st.floats(min_value=0.1, max_value=1.0)
pos_int = st.integers(min_value=1, max_value=10**6)  # inside every integer field's range (tokens <= 10^7)


@st.composite
def workloads(draw, name: str) -> dict:
    w = {"name": name, "model": draw(names)}
    if draw(st.booleans()):
        users = draw(st.booleans())
        w["traffic"] = {"input_tokens": draw(pos_int), "output_tokens": draw(pos_int)}
        w["traffic"].update({"concurrent_users": draw(pos_int), "think_time_s": draw(st.floats(0, 1e4))}
                            if users else {"peak_qps": draw(pos_float)})
        w["slo"] = {"ttft_ms": draw(pos_float), "tpot_ms": draw(pos_float)}
    else:
        w["batch"] = {"requests": draw(pos_int), "input_tokens": draw(pos_int), "output_tokens": draw(pos_int),
                      "deadline_hours": draw(pos_float)}
    if draw(st.booleans()):
        w["precisions"] = draw(st.lists(st.sampled_from(["fp16", "bf16", "fp8", "int8", "int4"]),
                                        min_size=1, unique=True))
    if draw(st.booleans()):
        w["max_utilization"] = draw(fraction)
    w["min_replicas"] = draw(st.integers(0, 8))
    return w


@st.composite
def specs(draw) -> dict:
    wnames = draw(st.lists(names, min_size=1, max_size=4, unique=True))
    data = {"name": draw(st.text(printable, min_size=1).filter(str.strip)), "workloads": [draw(workloads(n)) for n in wnames]}
    data["objective"] = draw(st.sampled_from(["rent", "buy", "compare"]))
    if draw(st.booleans()):
        data["gpus"] = {"allow": draw(st.lists(names, min_size=1, max_size=3)), "market": draw(st.sampled_from(["global", "china", "any"])),
                        "available": draw(st.dictionaries(names, st.integers(0, 64), max_size=3))}
    if draw(st.booleans()):
        data["budget"] = {"capex_usd": draw(st.none() | pos_float), "monthly_usd": draw(pos_float)}
    if draw(st.booleans()):
        data["owned"] = [{"gpu": g, "count": draw(st.integers(1, 64))}
                         for g in draw(st.lists(names, max_size=3, unique=True))]
    if draw(st.booleans()):
        data["planning"] = {"tp_degrees": draw(st.lists(st.sampled_from([1, 2, 4, 8]), min_size=1, unique=True)),
                            "max_utilization": draw(fraction), "max_num_seqs": draw(pos_int)}
    return data


@settings(max_examples=100, deadline=None)
@given(data=specs())
def test_valid_specs_round_trip(data):
    """A random valid spec loads with the values given, and dumping it reloads to an equal spec."""
    loaded = load_spec_text(yaml.safe_dump(data, allow_unicode=True), "x.yaml").spec
    dumped = loaded.model_dump()
    for key, value in data.items():
        if key != "workloads" and not isinstance(value, dict):
            assert dumped[key] == value
    assert [w["name"] for w in dumped["workloads"]] == [w["name"] for w in data["workloads"]]
    assert load_spec_text(yaml.safe_dump(dumped, allow_unicode=True), "y.yaml").spec == loaded
