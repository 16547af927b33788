"""The workload file: strict pydantic models of what a user asks the planner for.

Every model derives from `StrictModel` (unknown keys rejected, no "5" -> 5 coercion, frozen). Each
field's attribute docstring is its description, with its unit; `planner.spec.fields.field_reference()` turns them into
the table of every key. Names (GPUs, models, precisions) are kept as written: they are resolved
against the catalogue later, where `planner.spec.loader.LoadedSpec.problem` locates any unknown one.
A caller that has the catalogue may also pass a name check in the validation context
(`NAMES_CONTEXT`): unknown names are then reported in the same pass as every other problem.

Every number has a range (minimum and maximum), shown in the field table; the ranges and why are in
`planner.spec.values`.

Rules that tie several fields together (exactly one of `traffic` / `batch`, unique names, ...) are
checked on the raw input next to the field checks, so one pass reports every problem. Each broken
rule is a pydantic error of type `spec_rule` whose context holds `message` and `expected`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, Literal

from annotated_types import Ge, Le
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    model_validator,
)

from planner.names import normalise_name
from planner.spec.values import (
    DAY_S,
    MAX_GPUS,
    MAX_QPS,
    RULE_ERROR,
    TP_DEGREES,
    GpuCount,
    GpuName,
    KvPrecisionName,
    LatencyMs,
    Loc,
    ModelName,
    Name,
    PowerFraction,
    PrecisionName,
    Qps,
    Tokens,
    TpDegree,
    UnitInterval,
    Utilization,
    rule_error,
)
from planner.units import HOURS_PER_DAY

__all__ = ["RULE_ERROR", "TP_DEGREES", "ProblemSpec", "Workload", "rule_error"]

def _get(obj: Any, key: str) -> Any:
    """`obj[key]` for raw mappings, `obj.key` for models already built; None when absent."""
    if isinstance(obj, Mapping):
        return obj.get(key)
    return getattr(obj, key, None)


def _duplicates(items: Any, key: str | None = None) -> list[tuple[int, int, Any]]:
    """(index, index of first occurrence, value) of each repeated item (names compared normalised)."""
    if not isinstance(items, (list, tuple)):
        return []
    seen: dict[Any, int] = {}
    out = []
    for i, item in enumerate(items):
        value = _get(item, key) if key else item
        norm = normalise_name(value) if isinstance(value, str) else value
        if isinstance(norm, bool) or not isinstance(norm, (str, int)):
            continue
        if norm in seen:
            out.append((i, seen[norm], value))
        else:
            seen[norm] = i
    return out


class StrictModel(BaseModel):
    """Base of every section: unknown keys forbidden, strict types, immutable, documented fields."""

    model_config = ConfigDict(
        extra="forbid", frozen=True, strict=True, allow_inf_nan=False, use_attribute_docstrings=True
    )

    @classmethod
    def rules(cls, data: Mapping[str, Any]) -> list[tuple[Loc, str, str | None]]:
        """Cross-field checks on the raw input: (location relative to this section, message,
        expected) per broken rule. Run beside the field checks, so both are reported at once."""
        return []

    @model_validator(mode="wrap")
    @classmethod
    def _check_rules(cls, data: Any, handler: Any) -> Any:
        broken = cls.rules(data) if isinstance(data, Mapping) else []
        if not broken:
            return handler(data)
        details: list[Any] = []
        try:
            handler(data)
        except ValidationError as exc:
            details = [_reraisable(e) for e in exc.errors(include_url=False)]
        for loc, message, expected in broken:
            details.append({"type": rule_error(message, expected), "loc": loc, "input": data})
        raise ValidationError.from_exception_data(cls.__name__, details)


def _reraisable(err: Any) -> dict[str, Any]:
    """An entry of `ValidationError.errors()` in the form `from_exception_data` takes back."""
    detail: dict[str, Any] = {"type": err["type"], "loc": err["loc"], "input": err["input"]}
    if err["type"] == RULE_ERROR:
        detail["type"] = rule_error(err["ctx"]["message"], err["ctx"].get("expected"), err["ctx"].get("also", ()))
    elif "ctx" in err:
        detail["ctx"] = err["ctx"]
    return detail


class GpuFilter(StrictModel):
    """Which catalogue GPUs may be used."""

    allow: list[GpuName] = Field(default=["any"], min_length=1)
    """GPU catalogue ids or aliases that may be used, or the word `any` for every GPU."""
    deny: list[GpuName] = []
    """GPU catalogue ids or aliases that must not be used (applied after `allow`)."""
    datacenter_only: bool = False
    """true drops GeForce cards (NVIDIA's GeForce licence forbids datacentre use)."""
    market: Literal["global", "china", "any"] = "global"
    """GPUs sold where: `global`, `china` (export-compliant parts such as H20) or `any`."""
    available: dict[GpuName, GpuCount] = {}
    """At most this many GPUs of a type (count of GPUs, owned ones included), by GPU name."""


class Budget(StrictModel):
    """Spending limits; null means no limit."""

    capex_usd: Annotated[float, Ge(1), Le(1e12)] | None = None
    """Most that may be spent on buying GPUs (servers included), US dollars."""
    monthly_usd: Annotated[float, Ge(1), Le(1e11)] | None = None
    """Most that may be spent per month on rent, power and upkeep, US dollars per month."""


class OwnedGpus(StrictModel):
    """GPUs already on hand: no purchase cost, but their power still counts."""

    gpu: GpuName
    """GPU catalogue id or alias."""
    count: Annotated[int, Ge(1), Le(MAX_GPUS)]
    """Number of GPUs of this type on hand."""


class RentOptions(StrictModel):
    """How rented GPUs are priced."""

    pricing: Literal["on_demand", "spot", "reserved_1y", "reserved_3y"] = "on_demand"
    """Price kind: `on_demand`, `spot`, or a 1- or 3-year reservation (US dollars per GPU-hour)."""
    providers: list[Name] = Field(default=["any"], min_length=1)
    """Cloud providers whose prices may be used, or the word `any`."""
    include_marketplace: bool = False
    """true also uses marketplace offers (peer-to-peer GPU rental), which are cheaper but less reliable."""


class Planning(StrictModel):
    """Knobs of the search and of the serving engine being modelled."""

    max_utilization: Utilization = 0.8
    """Fraction of a replica's capacity the demand may use; the rest is headroom."""
    tp_degrees: list[TpDegree] = Field(default=list(TP_DEGREES), min_length=1)
    """Tensor-parallel degrees (GPUs per replica) to consider, each 1, 2, 4 or 8, no repeats."""
    mem_utilization: Utilization = 0.9
    """Fraction of GPU memory the engine may use (vLLM's `gpu_memory_utilization`)."""
    max_num_seqs: Annotated[int, Ge(1), Le(1_000_000)] = 256
    """Engine cap on sequences served at once per replica (vLLM's `max_num_seqs`), count."""

    @classmethod
    def rules(cls, data: Mapping[str, Any]) -> list[tuple[Loc, str, str | None]]:
        return [
            (("tp_degrees", i), f"duplicate value {v} (also tp_degrees[{first}])", "each degree once")
            for i, first, v in _duplicates(data.get("tp_degrees"))
        ]




def _profile_rules(profile: Any) -> list[tuple[Loc, str, str | None]]:
    """`traffic.profile` holds one value per hour, not all of them zero (values are checked by type)."""
    if not isinstance(profile, (list, tuple)):
        return []
    if len(profile) != HOURS_PER_DAY:
        return [(("profile",), f"must have exactly {HOURS_PER_DAY} values, one per hour (got {len(profile)})",
                 "24 multipliers of the peak, hour 0 = 00:00-01:00")]
    numbers = [v for v in profile if isinstance(v, (int, float)) and not isinstance(v, bool)]
    if len(numbers) == len(profile) and not any(v > 0 for v in numbers):
        return [(("profile",), "every hour is 0: no demand at all", "at least one value > 0")]
    # A sliver of the peak is below the solver's feasibility tolerance (1e-6 of a replica's share):
    # the solver may serve it with no replica, and the plan would not cover the hour.
    return [(("profile", i), f"must be 0 (an idle hour) or at least {MIN_PROFILE_LEVEL:g} of the peak (got {v:g})",
             f"0, or a value in [{MIN_PROFILE_LEVEL:g}, 1]")
            for i, v in enumerate(profile)
            if isinstance(v, (int, float)) and not isinstance(v, bool) and 0 < v < MIN_PROFILE_LEVEL]


MIN_PROFILE_LEVEL = 0.001
"""The smallest non-zero hour of a traffic profile: a thousandth of the peak."""


class Traffic(StrictModel):
    """Online serving demand at the peak: users who think between requests, or a request rate."""

    concurrent_users: Annotated[int, Ge(1), Le(10_000_000)] | None = None
    """People using the service at once, count; converted to a request rate by Little's law."""
    think_time_s: Annotated[float, Ge(0), Le(DAY_S)] = 0.0
    """Seconds a user waits between getting an answer and sending the next request (with concurrent_users); 0 (the default) = each user sends the next request as soon as the answer arrives, the most load those users can make."""
    peak_qps: Qps | None = None
    """Peak request rate, requests per second (instead of concurrent_users)."""
    input_tokens: Tokens
    """Mean prompt length, tokens per request."""
    output_tokens: Tokens
    """Mean answer length, tokens per request."""
    profile: list[UnitInterval] | None = None
    """Hourly demand as multipliers of the peak: exactly 24 numbers, each 0 or in [0.001, 1], at least one > 0, hour 0 = 00:00-01:00 local time; null = flat at the peak all day."""

    @classmethod
    def rules(cls, data: Mapping[str, Any]) -> list[tuple[Loc, str, str | None]]:
        out = _profile_rules(data.get("profile"))
        users, qps = data.get("concurrent_users") is not None, data.get("peak_qps") is not None
        think = data.get("think_time_s") not in (None, 0)  # 0, the default, is what a dumped spec holds
        if users and qps:
            out.append((("peak_qps",), "give concurrent_users or peak_qps, not both", None))
        elif not users and not qps:
            out.append(((), "missing required key 'concurrent_users' or 'peak_qps'", None))
        if qps and not users and think:
            out.append((("think_time_s",), "not allowed with peak_qps (it only converts users to a rate)", "0 or no think_time_s"))
        return out


class Slo(StrictModel):
    """Latency targets of an online workload, met by the planner's predicted latencies under load."""

    ttft_ms: LatencyMs
    """Time to first token must not exceed this, milliseconds."""
    tpot_ms: LatencyMs
    """Time per output token after the first must not exceed this, milliseconds."""


class BatchJob(StrictModel):
    """Offline work: a number of requests to finish before a deadline."""

    requests: Annotated[int, Ge(1), Le(10**10)]
    """Requests to process, count."""
    input_tokens: Tokens
    """Mean prompt length, tokens per request."""
    output_tokens: Tokens
    """Mean answer length, tokens per request."""
    deadline_hours: Annotated[float, Ge(0.01), Le(8_760)]
    """All requests must be done within this many hours; requests / deadline must be at most 1,000,000 requests/s, like `peak_qps`."""

    @classmethod
    def rules(cls, data: Mapping[str, Any]) -> list[tuple[Loc, str, str | None]]:
        requests, hours = data.get("requests"), data.get("deadline_hours")
        if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (requests, hours)):
            return []
        if not (1 <= requests <= 10**10 and 0.01 <= hours <= 8_760):
            return []  # the field checks report it
        rate = requests / (hours * 3600.0)
        if rate > MAX_QPS:
            why = f"{requests} requests in {hours:g} h is {rate:.4g} requests/s, more than {MAX_QPS:,.0f}"
            return [(("requests",), why, "fewer requests or a later deadline")]
        return []


class Workload(StrictModel):
    """One model to serve: online (`traffic` + `slo`) or offline (`batch`)."""

    name: Name
    """Unique name of the workload, used in reports."""
    model: ModelName
    """Model catalogue id or alias, or a path to a Hugging Face config.json (relative to the YAML file)."""
    precisions: list[PrecisionName] | None = Field(default=None, min_length=1)
    """Weight precisions to consider (e.g. fp16, int8, int4); null = fp16, bf16, fp8, int8, int8-wo, int4 (list fp32 or GGUF to include them)."""
    kv_precision: KvPrecisionName | None = None
    """KV-cache precision (e.g. fp16, fp8); null = the engine default for the weight precision."""
    traffic: Traffic | None = None
    """Online serving demand; give this and `slo`, or `batch`."""
    slo: Slo | None = None
    """Latency targets; required with `traffic`, not allowed with `batch`."""
    batch: BatchJob | None = None
    """Offline work instead of `traffic` and `slo`."""
    min_replicas: Annotated[int, Ge(0), Le(10_000)] = 1
    """At least this many replicas, count (redundancy)."""
    max_utilization: Utilization | None = None
    """Fraction of a replica's capacity this workload may use; null = planning.max_utilization."""

    @property
    def kind(self) -> Literal["traffic", "batch"]:
        """`traffic` for online serving, `batch` for offline work."""
        return "traffic" if self.traffic is not None else "batch"

    @property
    def input_tokens(self) -> int:
        """Mean prompt length, tokens per request, from `traffic` or `batch`."""
        return (self.traffic or self.batch).input_tokens  # type: ignore[union-attr]

    @property
    def output_tokens(self) -> int:
        """Mean answer length, tokens per request, from `traffic` or `batch`."""
        return (self.traffic or self.batch).output_tokens  # type: ignore[union-attr]

    @classmethod
    def rules(cls, data: Mapping[str, Any]) -> list[tuple[Loc, str, str | None]]:
        traffic, batch = data.get("traffic") is not None, data.get("batch") is not None
        slo = data.get("slo") is not None
        out: list[tuple[Loc, str, str | None]] = []
        if traffic and batch:
            out.append((("batch",), "give traffic or batch, not both",
                        "traffic + slo for online serving, or batch for offline work"))
        elif not traffic and not batch:
            out.append(((), "missing required key 'traffic' or 'batch'",
                        "traffic + slo for online serving, or batch for offline work"))
        elif traffic and not slo:
            out.append(((), "missing required key 'slo' (required with traffic)", "ttft_ms and tpot_ms"))
        elif batch and slo:
            out.append((("slo",), "not allowed with batch (offline work has no latency target)", None))
        out += [(("precisions", i), f"duplicate precision {v!r} (also precisions[{first}])", "each precision once")
                for i, first, v in _duplicates(data.get("precisions"))]
        return out


class Costs(StrictModel):
    """Your own prices and running costs; each replaces the catalogue's figure, null keeps it."""

    electricity_usd_per_kwh: Annotated[float, Ge(0.0001), Le(10)] | None = None
    """Electricity price, US dollars per kWh; null = the catalogue's (catalog/running_costs.csv)."""
    pue: Annotated[float, Ge(1), Le(5)] | None = None
    """Power usage effectiveness of your facility (facility power / IT power, ratio); null = the catalogue's."""
    colocation_usd_per_kw_month: Annotated[float, Ge(0), Le(10_000)] | None = None
    """Colocation rate per kW of nameplate IT load, US dollars per kW-month (0 for your own premises); null = the catalogue's."""
    maintenance_fraction_of_capex_per_year: UnitInterval | None = None
    """Maintenance and support as a fraction of capex per year; null = the catalogue's."""
    gpu_power_utilization: PowerFraction | None = None
    """Mean GPU draw while serving as a fraction of TDP; null = the catalogue's."""
    gpu_usd: dict[GpuName, Annotated[float, Ge(1), Le(1e7)]] = {}
    """Purchase price of one card, US dollars, by GPU name: replaces the catalogue's price or adds one (a GPU added this way becomes buyable wherever a server type takes it)."""
    rent_usd_per_gpu_hour: dict[GpuName, Annotated[float, Ge(0.001), Le(1_000)]] = {}
    """Rental price, US dollars per GPU-hour, by GPU name: replaces the price at the plan's pricing tier (`rent.pricing`) on every catalogue cloud offer of that GPU (every provider, instance size and marketplace offer, also offers with no price at that tier); adds no offer."""


class ProblemSpec(StrictModel):
    """The whole workload file: what to serve, on which GPUs, within which limits."""

    name: Name
    """Name of the problem, used in reports."""
    description: str = ""
    """Free text shown in reports."""
    objective: Literal["rent", "buy", "compare", "hybrid"] = "rent"
    """Minimise rental cost (`rent`), purchase cost over the horizon (`buy`), plan both (`compare`), or `hybrid`: hybrid buys a base fleet and rents the rest hour by hour."""
    horizon_months: Annotated[int, Ge(1), Le(240)] = 36
    """How long bought hardware is used, months (spreads purchase cost over time)."""
    gpus: GpuFilter = Field(default_factory=GpuFilter)
    """Filters on the GPU catalogue."""
    budget: Budget = Field(default_factory=Budget)
    """Spending limits."""
    power_kw_max: Annotated[float, Ge(0.01), Le(1e7)] | None = None
    """Facility power limit, kilowatts, PUE included; null = no limit."""
    owned: list[OwnedGpus] = []
    """GPUs already on hand (no purchase cost; their power still counts)."""
    rent: RentOptions = Field(default_factory=RentOptions)
    """Rental pricing options."""
    costs: Costs = Field(default_factory=Costs)
    """Your own prices and running costs, used instead of the catalogue's."""
    planning: Planning = Field(default_factory=Planning)
    """Search and engine settings."""
    workloads: list[Workload] = Field(min_length=1)
    """What to serve, one entry per model and traffic; names unique."""

    def workload(self, name: str) -> Workload:
        """The workload called `name` (KeyError if none)."""
        for w in self.workloads:
            if w.name == name:
                return w
        raise KeyError(name)

    def max_utilization_for(self, workload: Workload | str) -> float:
        """Fraction of a replica's capacity `workload` may use: its own `max_utilization`,
        else `planning.max_utilization`."""
        w = self.workload(workload) if isinstance(workload, str) else workload
        return w.max_utilization if w.max_utilization is not None else self.planning.max_utilization

    @classmethod
    def rules(cls, data: Mapping[str, Any]) -> list[tuple[Loc, str, str | None]]:
        out: list[tuple[Loc, str, str | None]] = [
            (("workloads", i, "name"), f"duplicate workload name {v!r} (also workloads[{first}])", "unique names")
            for i, first, v in _duplicates(data.get("workloads"), "name")
        ]
        out += [(("owned", i, "gpu"), f"GPU {v!r} listed twice (also owned[{first}])", "one entry per GPU type")
                for i, first, v in _duplicates(data.get("owned"), "gpu")]
        return out
