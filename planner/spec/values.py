"""Value types of the workload file: names (checked against a catalogue when one is passed in the
validation context), numbers with their ranges, and the error a broken rule raises.

Every number has a range (minimum and maximum), shown in the field table: wide enough for any real
fleet, narrow enough that no value overflows a float or makes the MILP numerically meaningless
(e.g. `peak_qps: 5e-324` gives coverage coefficients of 1e300). The ranges, and why:

- request rates (`peak_qps`): 1e-6 to 1e6 requests/s (one request in 11 days to a million a second);
- users: 1 to 10 million at once; think time 0 to 1 day (86,400 s);
- token counts: 1 to 10 million per request (the longest context windows are 1-10 million);
- latency targets (`ttft_ms`, `tpot_ms`): 0.1 ms to 1 day (86,400,000 ms);
- batch jobs: 1 to 10^10 requests, deadline 0.01 h (36 s) to one year (8,760 h);
- `horizon_months`: 1 to 240 (20 years; hardware is written off in 3-6);
- GPU counts (`owned`, `gpus.available`): up to 1 million (the largest clusters hold ~200,000);
- replicas (`min_replicas`): up to 10,000; engine sequences (`max_num_seqs`): up to 1 million;
- utilisation of a replica's capacity or of GPU memory: 0.1 to 1 (planning a tenth of the capacity
  already buys ten times the fleet; less only makes plans huge); mean GPU power draw: 0.01 to 1 of TDP;
- money: capex US$1 to $10^12, monthly $1 to $10^11, a card $1 to $10 million, rent $0.001 to
  $1,000 per GPU-hour, electricity $0.0001 to $10 per kWh, colocation $0 to $10,000 per kW-month;
- facility: power 0.01 kW to 10 GW (10^7 kW), PUE 1 to 5.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

from annotated_types import Ge, Le
from pydantic import AfterValidator, ValidationInfo
from pydantic_core import PydanticCustomError

UNION_TAGS = frozenset({"<name>", "<number>", "<section>"})
"""Members of the workload file's unions that are told apart by the value's shape (`by_shape`): a
value is checked against one member only, and the loader drops these tags from error locations, so
a bad value gets one located message, not one per member."""


def by_shape(value: Any) -> str:
    """The union member a value is checked against: a mapping → `<section>`, a number (not true or
    false) → `<number>`, anything else → `<name>` (a word such as `none`)."""
    if isinstance(value, Mapping):
        return "<section>"
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return "<number>"
    return "<name>"


RULE_ERROR = "spec_rule"
"""Pydantic error type of a broken cross-field rule; ctx has `message` and optional `expected`."""


TP_DEGREES = (1, 2, 4, 8)
"""Tensor-parallel degrees the planner considers."""


Loc = tuple[str | int, ...]


def rule_error(message: str, expected: str | None = None, also: list[str] | tuple[str, ...] = ()) -> PydanticCustomError:
    """A `spec_rule` error carrying a plain-language message (and what was expected); `also`: more
    messages about the same value, each reported on its own line."""
    ctx: dict[str, Any] = {"message": message}
    if expected:
        ctx["expected"] = expected
    if also:
        ctx["also"] = tuple(also)
    return PydanticCustomError(RULE_ERROR, "{message}", ctx)


NAMES_CONTEXT = "names"
"""Key of the validation context holding an optional name check: a callable `(kind, name)` ->
list of (message, expected) pairs, empty when the name is known; kind is `gpu`, `model`,
`precision`, `kv_precision` or `engine`. Without it (specs built in code) names are only checked when
resolved against the catalogue."""


def _known(kind: str) -> AfterValidator:
    """A validator asking the context's name check (if any) about a name of `kind`."""

    def check(value: str, info: ValidationInfo) -> str:
        names = info.context.get(NAMES_CONTEXT) if isinstance(info.context, Mapping) else None
        if names is None or (kind == "gpu" and value.strip().lower() == "any" and info.field_name == "allow"):
            return value
        found = names(kind, value)
        if found:
            (message, expected), *more = found
            raise rule_error(message, expected, [m for m, _ in more])
        return value

    return AfterValidator(check)


class JsonSchemaHint:
    """Metadata that adds keywords to a type's JSON Schema (`planner schema`), where pydantic cannot
    derive them from the validators: `pattern` for non-blank names, `enum` for TP degrees, and
    `x-planner-catalog` naming the catalogue table a name is looked up in (replaced by the
    catalogue's names as `examples` when a catalogue is at hand)."""

    def __init__(self, **keywords: Any) -> None:
        self.keywords = keywords

    def __get_pydantic_json_schema__(self, core_schema: Any, handler: Any) -> dict[str, Any]:
        schema = handler(core_schema)
        schema.update(self.keywords)
        return schema

    def __repr__(self) -> str:
        return f"JsonSchemaHint({self.keywords!r})"


CATALOG_KEYWORD = "x-planner-catalog"
"""JSON Schema keyword naming the catalogue kind (`gpu`, `model`, `precision`, `kv_precision`, `engine`) of a name."""
_NON_BLANK = r"\S"


def _name(kind: str | None = None) -> JsonSchemaHint:
    return JsonSchemaHint(pattern=_NON_BLANK, **({CATALOG_KEYWORD: kind} if kind else {}))


def _not_blank(value: str) -> str:
    if not value.strip():
        raise rule_error("must not be empty", "a name")
    return value


def tp_degree(value: int) -> int:
    if value not in TP_DEGREES:
        raise rule_error(f"must be one of {', '.join(map(str, TP_DEGREES))} (got {value})")
    return value


Name = Annotated[str, AfterValidator(_not_blank), _name()]
GpuName = Annotated[str, AfterValidator(_not_blank), _known("gpu"), _name("gpu")]
"""A GPU catalogue id or alias (in `gpus.allow`, also the word `any`)."""
ModelName = Annotated[str, AfterValidator(_not_blank), _known("model"), _name("model")]
PrecisionName = Annotated[str, AfterValidator(_not_blank), _known("precision"), _name("precision")]
KvPrecisionName = Annotated[str, AfterValidator(_not_blank), _known("kv_precision"), _name("kv_precision")]
EngineName = Annotated[str, AfterValidator(_not_blank), _known("engine"), _name("engine")]

MAX_TOKENS = 10_000_000
"""Most tokens in one request's prompt or answer (the longest context windows hold 1-10 million)."""
MAX_QPS = 1e6
"""Most requests per second one workload may ask for."""
MIN_QPS = 1e-6
"""Fewest requests per second a workload may ask for (one request in about 11.6 days)."""
DAY_S = 86_400
MAX_GPUS = 1_000_000
"""Most GPUs of one type owned or available (the largest clusters hold about 200,000)."""

Tokens = Annotated[int, Ge(1), Le(MAX_TOKENS)]
Qps = Annotated[float, Ge(MIN_QPS), Le(MAX_QPS)]
LatencyMs = Annotated[float, Ge(0.1), Le(DAY_S * 1000)]
Utilization = Annotated[float, Ge(0.1), Le(1)]
PowerFraction = Annotated[float, Ge(0.01), Le(1)]
UnitInterval = Annotated[float, Ge(0), Le(1)]
GpuCount = Annotated[int, Ge(0), Le(MAX_GPUS)]


TpDegree = Annotated[int, AfterValidator(tp_degree), JsonSchemaHint(enum=list(TP_DEGREES))]
