"""A plan laid out for deployment export: one `Line` per deployment with a stable DNS-1123 name, the
weights to load (checkpoint, quantisation, KV cache type), the engine memory fraction and the
planned per-replica load of each routed length bucket. Engine commands, manifests and the router
file are rendered from this; nothing here models performance.

Precision mapping (catalog/precisions.csv to what an engine loads):
- fp16, bf16, fp32: the 16-bit release (`checkpoints.csv`, precision bf16), `--dtype` as planned.
- fp8: a pre-quantised FP8 checkpoint when the catalogue names one (its config.json carries the
  quantisation, so no flag), else the 16-bit release with `--quantization fp8` (dynamic FP8 while
  loading; the 16-bit weights must fit in the replica's GPUs during loading).
- int8 (W8A8), int8-wo (W8A16), int4 (W4A16, AWQ/GPTQ): a pre-quantised checkpoint; engines read
  the method from its config.json. None in the catalogue: the export says what to quantise and how,
  and points the engine at the local directory the quantised model is to be written to.
- gguf-*: llama.cpp formats, not served by vLLM or SGLang: the launch script says so and stops.
- KV cache: fp8 -> an FP8 cache; the weights' 16-bit type -> `auto`; int8 (no INT8 cache in either
  engine) -> FP8, the same size, with a note.
"""

from __future__ import annotations

import hashlib
import math
import re
from dataclasses import dataclass

from planner.catalog.deploy_tables import DeployTables
from planner.catalog.gpus import Gpu
from planner.catalog.store import Catalog
from planner.errors import InputError, Problem
from planner.perf.memory import reported_memory_gib
from planner.report.plan_file import DeploymentIn, PlanIn, WorkloadIn

ENGINES = ("vllm", "sglang")
PORTS = {"vllm": 8000, "sglang": 30000}
"""Each engine's default HTTP port (`vllm serve --port`, `sglang.launch_server --port`)."""

MAX_NAME = 63
"""DNS-1035 label limit (Kubernetes Service names); Deployment names use the same."""

DTYPES = {"fp16": "float16", "bf16": "bfloat16", "fp32": "float32"}
"""Planner precision -> `--dtype` (both engines accept these names)."""

WEIGHT_ONLY = {"int8-wo", "int4"}
QUANTISE_HOW = {
    "int8": "W8A8 INT8 (SmoothQuant + GPTQ) with llm-compressor",
    "int8-wo": "W8A16 INT8 weights (GPTQ) with llm-compressor",
    "int4": "W4A16 INT4 weights, group size 128 (AWQ or GPTQ) with llm-compressor",
}


@dataclass(frozen=True)
class Weights:
    """What the engine loads, engine-neutral."""

    model_path: str
    """Hugging Face repo id, or a local directory the user creates first."""
    online_quantization: str | None
    """`fp8` when the engine quantises 16-bit weights while loading; None otherwise."""
    dtype: str | None
    """`--dtype` value, or None for the checkpoint's own."""
    kv_cache: str
    """`fp8` or `auto`."""
    remote_code: bool
    notes: tuple[str, ...]
    runnable: bool = True
    """False when no vLLM/SGLang can serve the precision (GGUF)."""


@dataclass(frozen=True)
class BucketLoad:
    """Requests of one length bucket routed to one replica at the workload's peak."""

    index: int
    input_tokens: int
    output_tokens: int
    qps_per_replica: float


@dataclass(frozen=True)
class Line:
    name: str
    deployment: DeploymentIn
    workload: WorkloadIn
    gpu: Gpu
    mem_utilization: float
    """Engine memory fraction: the plan's usable memory per GPU over the GPU's memory."""
    weights: Weights
    loads: tuple[BucketLoad, ...]
    hosts: tuple[str, ...]
    """Planned host (type) of each replica, from the plan's placement."""


@dataclass(frozen=True)
class ExportPlan:
    name: str
    pricing: str
    objective: str
    lines: tuple[Line, ...]
    workloads: tuple[WorkloadIn, ...]


def num(x: float) -> str:
    """A number as the export writes it: at most 4 decimals, no trailing zeros (deterministic)."""
    r = round(float(x), 4)
    return f"{r:.4f}".rstrip("0").rstrip(".") if r != int(r) else str(int(r))


def dns_names(ids: list[str]) -> dict[str, str]:
    """Candidate id -> a DNS-1035 label (lower-case letters, digits, '-', starting with a letter, at
    most 63 characters), unique within the list. The id's workload and deployment parts are kept
    (the model is implied by the workload: `qwen7b-chat:qwen-7b@rtx-3090-24gb/int8/tp1/b33` ->
    `qwen7b-chat-rtx-3090-24gb-int8-tp1-b33`); a name too long, or equal to another, ends in 8 hex
    digits of the id's SHA-256 instead of its tail."""
    base = {}
    for cid in ids:
        workload, _, rest = cid.partition(":")
        deployment = rest.partition("@")[2] or rest
        s = re.sub(r"[^a-z0-9]+", "-", f"{workload}-{deployment}".lower()).strip("-")
        if not s or not s[0].isalpha():
            s = "d-" + s
        base[cid] = s
    counts: dict[str, int] = {}
    for s in base.values():
        counts[s] = counts.get(s, 0) + 1
    out = {}
    for cid, s in base.items():
        if len(s) > MAX_NAME or counts[s] > 1:
            digest = hashlib.sha256(cid.encode("utf-8")).hexdigest()[:8]
            s = s[:MAX_NAME - 9].rstrip("-") + "-" + digest
        out[cid] = s
    return out


def weights_for(model: str, precision: str, kv_precision: str, tables: DeployTables) -> Weights:
    """The checkpoint, quantisation and KV cache type a deployment loads (module docstring)."""
    notes: list[str] = []
    base = tables.checkpoint(model, "bf16")
    own = tables.checkpoint(model, precision) if precision in ("fp8", "int8", "int8-wo", "int4") else None
    if kv_precision == "fp8":
        kv = "fp8"
    elif kv_precision == "int8":
        kv = "fp8"
        notes.append("KV cache: neither engine has an INT8 KV cache; FP8 (the same size) stands in for it")
    else:
        kv = "auto"
        if kv_precision not in ("fp16", "bf16", precision):
            notes.append(f"KV cache: {kv_precision} has no engine setting; the engine's default (auto) is used")
    remote = bool((own or base) and (own or base).remote_code)
    if precision.startswith("gguf"):
        return Weights(base.repo if base else model, None, None, kv, remote,
                       (f"{precision} is a llama.cpp (GGUF) format: vLLM and SGLang do not serve it as planned; "
                        "serve it with llama.cpp's llama-server, or plan without GGUF precisions",), runnable=False)
    dtype = DTYPES.get(precision) or ("float16" if precision in WEIGHT_ONLY else None)
    if own is not None:
        notes.insert(0, f"checkpoint: {own.repo} ({own.method}{'' if own.verified else ', repo id not verified'}); "
                        "the engine reads the quantisation from its config.json")
        return Weights(own.repo, None, dtype, kv, remote, tuple(notes))
    if base is None:
        notes.insert(0, f"the catalogue names no Hugging Face repository for {model}: put the model's repo id or "
                        "local directory in place of the model argument")
        return Weights(model, "fp8" if precision == "fp8" else None, dtype, kv, remote, tuple(notes))
    if precision == "fp8":
        notes.insert(0, f"no pre-quantised FP8 checkpoint of {model} in the catalogue: {base.repo} is quantised to "
                        "FP8 while loading (--quantization fp8); the 16-bit weights must fit in the replica's GPUs "
                        "while loading, else quantise to FP8 with llm-compressor first")
        return Weights(base.repo, "fp8", None, kv, remote, tuple(notes))
    if precision in QUANTISE_HOW:
        local = f"models/{model}-{precision}"
        notes.insert(0, f"no public {precision.upper()} checkpoint of {model} in the catalogue: quantise "
                        f"{base.repo} to {QUANTISE_HOW[precision]} first, saved to {local}")
        return Weights(local, None, dtype, kv, remote, tuple(notes))
    return Weights(base.repo, None, dtype, kv, remote, tuple(notes))


def bucket_totals(w: WorkloadIn) -> dict[int, float]:
    """Bucket index -> the sum of its routes' shares of the bucket. The plan's routes cover each
    bucket at least once (the MILP's coverage constraint is a lower bound), so a total may pass 1:
    the router then splits the bucket in proportion to the routes."""
    totals: dict[int, float] = {}
    for r in w.routing:
        totals[r.bucket.index] = totals.get(r.bucket.index, 0.0) + r.share_of_bucket
    return totals


def bucket_loads(d: DeploymentIn, w: WorkloadIn) -> tuple[BucketLoad, ...]:
    """Per routed bucket, the requests/s one replica takes at the peak: the deployment's planned
    demand split in proportion to bucket share x share of the bucket routed here, scaled down where
    the bucket's routes total more than 1 (the router sends each request once), over its replicas."""
    routes = sorted((r for r in w.routing if r.deployment == d.candidate), key=lambda r: r.bucket.index)
    weights = [r.bucket.share * r.share_of_bucket for r in routes]
    total = sum(weights)
    totals = bucket_totals(w)
    if total <= 0 or d.replicas == 0:
        return tuple(BucketLoad(r.bucket.index, r.bucket.input_tokens, r.bucket.output_tokens, 0.0) for r in routes)
    return tuple(BucketLoad(r.bucket.index, r.bucket.input_tokens, r.bucket.output_tokens,
                            d.demand_qps * wt / total / max(totals[r.bucket.index], 1.0) / d.replicas)
                 for r, wt in zip(routes, weights))


def build_export(name: str, objective: str, plan: PlanIn, cat: Catalog, tables: DeployTables,
                 label: str, plan_index: int) -> ExportPlan:
    """The plan as export lines; a GPU or precision unknown to the catalogue is a located InputError."""
    problems = []
    workloads = {w.name: w for w in plan.workloads}
    names = dns_names([d.candidate for d in plan.deployments])
    hosts: dict[str, list[str]] = {}
    for p in plan.placement:
        for cid in p.replicas:
            hosts.setdefault(cid, []).append(p.host.rsplit(" #", 1)[0])
    lines = []
    for j, d in enumerate(plan.deployments):
        where = f"plans[{plan_index}].deployments[{j}]"
        gpu = cat.gpus.get(d.gpu)
        for key, known in (("gpu", gpu), ("precision", cat.precisions.get(d.precision)),
                           ("kv_precision", cat.precisions.get(d.kv_precision))):
            if known is None:
                problems.append(Problem(f"unknown {key.replace('kv_', 'KV ')} {getattr(d, key)!r}", file=label,
                                        key=f"{where}.{key}", expected="a name of the shipped catalogue"))
        if problems:
            continue
        lines.append(Line(
            name=names[d.candidate], deployment=d, workload=workloads[d.workload], gpu=gpu,
            mem_utilization=min(1.0, d.mem_capacity_gib_per_gpu / reported_memory_gib(gpu)),
            weights=weights_for(d.model, d.precision, d.kv_precision, tables),
            loads=bucket_loads(d, workloads[d.workload]), hosts=tuple(sorted(hosts.get(d.candidate, ())))))
    if problems:
        raise InputError(problems)
    return ExportPlan(name, plan.pricing, objective, tuple(lines), tuple(plan.workloads))


def prompts_for(qps: float, duration_s: float) -> int:
    """Requests a benchmark sends to hold `qps` for `duration_s` seconds (at least 1)."""
    return max(1, math.ceil(qps * duration_s))
