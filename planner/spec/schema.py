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
from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag, ValidationError, model_validator

from planner.spec.rules import DEFAULT_TRACE_BUCKETS, MAX_BUCKETS, duplicates, length_rules, profile_rules
from planner.spec.values import (
    DAY_S,
    MAX_GPUS,
    MAX_QPS,
    RULE_ERROR,
    TP_DEGREES,
    EngineName,
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
    by_shape,
    rule_error,
)

__all__ = ["RULE_ERROR", "TP_DEGREES", "ProblemSpec", "Workload", "rule_error"]

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
    datacenter_only: bool | None = None
    """true drops GeForce cards everywhere (NVIDIA's GeForce licence forbids datacentre use); null (the default) drops them only from servers bought into a colocation site (`site`); false allows them there too (you take on the licence question)."""
    market: Literal["global", "china", "any"] = "global"
    """Where the deployment is: `global`, `china` (GPUs sold in China, export-compliant parts such as H20, and only cloud offers rented in China, priced in CNY and converted to USD) or `any`; a GPU named in `allow` is kept whatever its market."""
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
    spot_max_share: Annotated[float, Ge(0), Le(1)] | None = None
    """With `pricing: spot`: the most of a workload's counted capacity that may be on spot instances, in [0, 1]; the rest is on on-demand instances of the same catalogue. null = 0.5 for online workloads, 1.0 for batch jobs; a number applies to every workload."""


class Planning(StrictModel):
    """Knobs of the search and of the serving engine being modelled."""

    max_utilization: Utilization = 0.9
    """Fraction of a replica's SLO capacity (the request rate at which the SLO percentile is met, queueing included) the demand may use; the rest is headroom against the performance model's error and forecast error."""
    tp_degrees: list[TpDegree] = Field(default=list(TP_DEGREES), min_length=1)
    """Tensor-parallel degrees (GPUs per replica) to consider, each 1, 2, 4 or 8, no repeats."""
    mem_utilization: Utilization = 0.9
    """Fraction of GPU memory the engine may use (vLLM's `gpu_memory_utilization`)."""
    max_num_seqs: Annotated[int, Ge(1), Le(1_000_000)] = 256
    """Engine cap on sequences served at once per replica (vLLM's `max_num_seqs`), count."""
    engine: EngineName = "vllm"
    """Inference engine the replicas run (catalog/engines.csv): `vllm` (the default), `sglang`, `trtllm`, `triton-trtllm`, `lmdeploy`, `llama.cpp`, `hf`, `gpt-fast`, `exllamav2`. It sets the engine multipliers of the efficiency factors (catalog/engine_factors.csv) and whether prompts ride the decode steps (chunked prefill; not for `hf`, `gpt-fast`, `exllamav2`)."""
    max_num_batched_tokens: Annotated[int, Ge(64), Le(1_000_000)] | None = None
    """Engine token budget of one iteration with chunked prefill (vLLM's `max_num_batched_tokens`), tokens; null = vLLM's default: 8192 on GPUs with 70 GiB or more other than the A100, else 2048."""
    bucket_slices: Annotated[int, Ge(1), Le(64)] | None = None
    """Routing granularity: null = a length bucket's requests may be split in any proportion between deployments; n = they go in n equal slices, each wholly to one deployment (Melange's `slice_factor`; 1 = a bucket is never split)."""
    robustness: Annotated[Annotated[Literal["none", "model_error"], Tag("<name>")]
                          | Annotated[float, Ge(1), Le(100), Tag("<number>")], Discriminator(by_shape)] = "none"
    """Headroom against error beyond max_utilization: `none`; `model_error` = plan every GPU family at the speed it reached on nine measured rows in ten (catalog/model_error.csv: every step time / that factor); or a number m >= 1 = plan for m x every workload's demand."""
    mixing: Literal["routed", "free", "single"] = "routed"
    """How a workload's replicas may mix deployment types (GPU, precision, TP, batch cap, context): `routed` (the default) = one deployment type per length bucket, each bucket wholly to it (one type in all for a workload of one bucket); `single` = one deployment type per workload; `free` = any mix, the router splitting demand by the capacity-weighted routing table. Plans that own or buy hardware keep each workload's types across hours; rent-only plans choose them hour by hour."""

    @classmethod
    def rules(cls, data: Mapping[str, Any]) -> list[tuple[Loc, str, str | None]]:
        out: list[tuple[Loc, str, str | None]] = [
            (("tp_degrees", i), f"duplicate value {v} (also tp_degrees[{first}])", "each degree once")
            for i, first, v in duplicates(data.get("tp_degrees"))
        ]
        slices, mixing = data.get("bucket_slices"), data.get("mixing", "routed")
        if isinstance(slices, int) and slices > 1 and mixing in ("routed", "single"):
            out.append((("bucket_slices",), f"{slices} slices split a bucket between deployments, which mixing: {mixing} "
                        "does not allow (each bucket goes wholly to one deployment type)", "mixing: free, or drop bucket_slices"))
        return out


class LengthBucket(StrictModel):
    """Requests of one length: a bucket of a workload's request-length mix."""

    input_tokens: Tokens
    """Prompt length, tokens per request."""
    output_tokens: Tokens
    """Answer length, tokens per request."""
    share: Annotated[float, Ge(0.0001), Le(1)]
    """Fraction of the workload's requests of this length, in [0.0001, 1]."""


class Traffic(StrictModel):
    """Online serving demand at the peak: users who think between requests, or a request rate."""

    concurrent_users: Annotated[int, Ge(1), Le(10_000_000)] | None = None
    """People using the service at once, count; converted to a request rate by Little's law."""
    think_time_s: Annotated[float, Ge(0), Le(DAY_S)] = 0.0
    """Seconds a user waits between getting an answer and sending the next request (with concurrent_users); 0 (the default) = each user sends the next request as soon as the answer arrives, the most load those users can make."""
    peak_qps: Qps | None = None
    """Peak request rate, requests per second (instead of concurrent_users)."""
    input_tokens: Tokens | None = None
    """Prompt length, tokens per request (one length for every request; or give `lengths` or `trace`)."""
    output_tokens: Tokens | None = None
    """Answer length, tokens per request (with `input_tokens`)."""
    lengths: list[LengthBucket] | None = Field(default=None, min_length=1, max_length=MAX_BUCKETS)
    """Request-length mix instead of one length: buckets of {input_tokens, output_tokens, share}, shares summing to 1."""
    trace: str | None = None
    """CSV of requests (input_tokens,output_tokens[,arrival_s], or ContextTokens,GeneratedTokens,TIMESTAMP), relative to the YAML file: summarised into at most `trace_buckets` length buckets (log-spaced 2-D bins) and, when it has arrival times, their burstiness."""
    trace_buckets: Annotated[int, Ge(1), Le(MAX_BUCKETS)] = DEFAULT_TRACE_BUCKETS
    """Most length buckets a `trace` is summarised into, count."""
    arrival_cv: Annotated[float, Ge(0.1), Le(10)] | None = None
    """Burstiness: coefficient of variation of the times between arrivals (1 = Poisson); null = the trace's own, else 1."""
    profile: list[UnitInterval] | None = None
    """Hourly demand as multipliers of the peak: exactly 24 numbers, each 0 or in [0.001, 1], at least one > 0, hour 0 = 00:00-01:00 local time; null = flat at the peak all day."""

    @classmethod
    def rules(cls, data: Mapping[str, Any]) -> list[tuple[Loc, str, str | None]]:
        out = profile_rules(data.get("profile")) + length_rules(data)
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
    """Latency targets of an online workload: limits on a percentile of requests, queueing included."""

    ttft_ms: LatencyMs
    """Time to first token must not exceed this at the SLO percentile, milliseconds (queueing included)."""
    tpot_ms: LatencyMs
    """Time per output token after the first must not exceed this at the SLO percentile, milliseconds."""
    e2e_ms: LatencyMs | None = None
    """Whole response (first to last token, queueing included) must not exceed this at the SLO percentile, milliseconds; null = no limit."""
    percentile: Literal[50, 90, 95, 99] = 90
    """Which percentile of requests the limits hold for: 50, 90, 95 or 99 (90 = nine requests in ten)."""


class BatchJob(StrictModel):
    """Offline work: a number of requests to finish before a deadline."""

    requests: Annotated[int, Ge(1), Le(10**10)]
    """Requests to process, count."""
    input_tokens: Tokens | None = None
    """Prompt length, tokens per request (one length for every request; or give `lengths` or `trace`)."""
    output_tokens: Tokens | None = None
    """Answer length, tokens per request (with `input_tokens`)."""
    lengths: list[LengthBucket] | None = Field(default=None, min_length=1, max_length=MAX_BUCKETS)
    """Request-length mix instead of one length: buckets of {input_tokens, output_tokens, share}, shares summing to 1."""
    trace: str | None = None
    """CSV of the job's requests (as `traffic.trace`; arrival times are ignored), relative to the YAML file."""
    trace_buckets: Annotated[int, Ge(1), Le(MAX_BUCKETS)] = DEFAULT_TRACE_BUCKETS
    """Most length buckets a `trace` is summarised into, count."""
    deadline_hours: Annotated[float, Ge(0.01), Le(8_760)]
    """All requests must be done within this many hours; requests / deadline must be at most 1,000,000 requests/s, like `peak_qps`."""
    schedule: Literal["once", "daily", "weekly"] = "once"
    """How often the job runs: once, daily or weekly; rented capacity for it is billed per instance-hour of each run (a once-job's cost is not a monthly cost)."""
    start_hour: Annotated[int, Ge(0), Le(23)] = 0
    """Hour of the day the job's window opens (0 = 00:00 local time, as `traffic.profile`); the window lasts `deadline_hours`."""

    @classmethod
    def rules(cls, data: Mapping[str, Any]) -> list[tuple[Loc, str, str | None]]:
        out = length_rules(data)
        requests, hours = data.get("requests"), data.get("deadline_hours")
        longest = {"daily": 24, "weekly": 168}.get(data.get("schedule"))  # type: ignore[arg-type]
        if longest is not None and isinstance(hours, (int, float)) and not isinstance(hours, bool) and hours > longest:
            out.append((("deadline_hours",), f"a {data.get('schedule')} job's window is at most {longest} h (got {hours:g})",
                        f"deadline_hours <= {longest}, or schedule: once"))
        if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (requests, hours)):
            return out
        if not (1 <= requests <= 10**10 and 0.01 <= hours <= 8_760):
            return out  # the field checks report it
        rate = requests / (hours * 3600.0)
        if rate > MAX_QPS:
            why = f"{requests} requests in {hours:g} h is {rate:.4g} requests/s, more than {MAX_QPS:,.0f}"
            out.append((("requests",), why, "fewer requests or a later deadline"))
        return out


class Zones(StrictModel):
    """Replicas spread over failure domains (`redundancy: {zones: N}`)."""

    zones: Annotated[int, Ge(2), Le(64)]
    """Failure domains (hosts: servers or rented instances) the workload's replicas are spread over, count: at least this many replicas, at most ceil(replicas / N) of each deployment on one host, and the SLO capacity still covers the demand with any one domain's share lost."""


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
    engine: EngineName | None = None
    """Inference engine of this workload's replicas (as `planning.engine`); null = `planning.engine`."""
    traffic: Traffic | None = None
    """Online serving demand; give this and `slo`, or `batch`."""
    slo: Slo | None = None
    """Latency targets; required with `traffic`, not allowed with `batch`."""
    batch: BatchJob | None = None
    """Offline work instead of `traffic` and `slo`."""
    min_replicas: Annotated[int, Ge(0), Le(10_000)] = 1
    """At least this many replicas, count (redundancy)."""
    redundancy: Annotated[Annotated[Literal["none", "n_plus_1"], Tag("<name>")] | Annotated[Zones, Tag("<section>")],
                          Discriminator(by_shape)] | None = None
    """Spare capacity against a lost replica or host: `n_plus_1` = the SLO capacity still covers the demand with any one replica of any deployment lost (every deployment carries one replica beyond its load); `{zones: N}` = spread over N hosts, covering the demand with any one host's share lost; `none` = no spare; null (the default) = `n_plus_1` for an online workload the plan serves with more than one replica, `none` for one served by a single replica and for batch work. Under `n_plus_1` a lost host is checked on the plan's placement and warned about, not planned for."""
    min_quality: Literal["lossless", "near_lossless", "any"] = "any"
    """Least accuracy a precision must keep, as its published recovery against the 16-bit model on catalog/quality.csv's benchmark: `lossless` >= 99.5 %, `near_lossless` >= 98 %, `any` (the default) no limit; plans show each precision's figure either way."""
    max_utilization: Utilization | None = None
    """Fraction of a replica's SLO capacity this workload may use; null = planning.max_utilization."""
    capacity_table: str | None = None
    """CSV of measured capacities (gpu, precision, tp, input_tokens, output_tokens, max_qps: requests/s one replica serves within the SLO, per length bucket), relative to the YAML file: on each GPU it names, its rows replace the model's candidates; needs `peak_qps` or `batch`."""

    @property
    def kind(self) -> Literal["traffic", "batch"]:
        """`traffic` for online serving, `batch` for offline work."""
        return "traffic" if self.traffic is not None else "batch"

    @property
    def demand(self) -> Traffic | BatchJob:
        """The `traffic` or `batch` section, whichever is given (both carry the request lengths)."""
        return self.traffic or self.batch  # type: ignore[return-value]

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
        if batch and (data.get("redundancy") == "n_plus_1" or isinstance(data.get("redundancy"), Mapping)):
            out.append((("redundancy",), "spare replicas are for online serving (a batch request lost with a "
                        "replica is retried; nobody waits on it live)", "drop redundancy, or none"))
        out += [(("precisions", i), f"duplicate precision {v!r} (also precisions[{first}])", "each precision once")
                for i, first, v in duplicates(data.get("precisions"))]
        users = isinstance(data.get("traffic"), Mapping) and data["traffic"].get("concurrent_users") is not None
        if data.get("capacity_table") is not None and users:
            out.append((("capacity_table",), "not allowed with concurrent_users (a measured capacity is a request "
                        "rate; users become one only through the model's latencies)", "traffic.peak_qps or batch"))
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
    """Rental price, US dollars per GPU-hour, by GPU name: replaces the price at the plan's pricing tier (`rent.pricing`) on every catalogue cloud offer of that GPU (every provider, market, instance size and marketplace offer, also offers with no price at that tier); adds no offer. The fix when no offer of a GPU has a price at that tier."""
    discount_rate_per_year: Annotated[float, Ge(0), Le(1)] = 0.0
    """Discount rate for rent or buy, fraction per year (0.1 = 10 %/year), applied monthly as (1 + rate)^(1/12) - 1 to payments at the end of each month (capex at month 0): the comparison then shows present values (NPV, discounted break-even and cumulative cost); 0 (the default) = money now and later weigh the same."""
    resale_fraction: UnitInterval = 0.0
    """Share of the capex recovered by selling the bought hardware at the end of the horizon, fraction in [0, 1], discounted to today with `discount_rate_per_year`; lowers the buy plan's NPV and its depreciation; 0 (the default) = no resale value."""


class Office(StrictModel):
    """Wall power of an office site (`site: office`)."""

    circuits: Annotated[int, Ge(1), Le(1000)] = 1
    """Branch circuits the servers may plug into, count."""
    circuit_w: Annotated[float, Ge(100), Le(100_000)] = 1440.0
    """Continuous watts one circuit gives: 1,440 W is a US 15 A 120 V circuit at the 80 % continuous-load limit (NEC 210.19/210.20; 1,920 W for 20 A); 3,680 W a 16 A 230 V circuit."""


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
    site: Literal["colocation", "office"] = "colocation"
    """Where bought servers live: `colocation` (rack servers in a rented datacentre rack: colocation rate, racks and a top-of-rack switch; GeForce cards only with gpus.datacenter_only: false) or `office` (tower servers on the office's wall power, no rack or colocation, PUE 1 unless costs.pue)."""
    office: Office = Field(default_factory=Office)
    """Wall power of an office site (used with `site: office`)."""
    owned: list[OwnedGpus] = []
    """GPUs already on hand (no purchase cost; their power still counts)."""
    rent: RentOptions = Field(default_factory=RentOptions)
    """Rental pricing options."""
    costs: Costs = Field(default_factory=Costs)
    """Your own prices and running costs, used instead of the catalogue's."""
    currency: Literal["USD", "CNY", "EUR"] = "USD"
    """Currency the reports print money in: `USD`, `CNY` or `EUR`, converted from US dollars when rendering at the catalogue's dated rate (catalog/exchange_rates.csv); every computation and every JSON `_usd` field stays in US dollars."""
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
            for i, first, v in duplicates(data.get("workloads"), "name")
        ]
        out += [(("owned", i, "gpu"), f"GPU {v!r} listed twice (also owned[{first}])", "one entry per GPU type")
                for i, first, v in duplicates(data.get("owned"), "gpu")]
        return out
