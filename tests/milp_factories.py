"""Hand-built MILP inputs for the formulation tests: candidates, host types, PCIe cards and
`MilpInput`s with no catalogue and no YAML (test_milp, test_exhaustive, test_placement)."""

from __future__ import annotations

from planner.catalog.price_rows import ServerType
from planner.money.costs import CardCost, HostType
from planner.optimize.candidates import Candidate
from planner.optimize.milp import MilpInput, MilpSolution
from planner.optimize.milp_parts import eps_usd


def cand(workload: str, gpu: str, tp: int, coverage: float, id: str | None = None,
         buckets: tuple[int, ...] = (0,), shares: tuple[float, ...] = (1.0,),
         coverages: tuple[float, ...] | None = None) -> Candidate:
    """A candidate whose one replica covers `coverage` of `workload`'s peak on `tp` GPUs of `gpu`
    (the MILP reads only id, workload, gpu, tp and the coverage of each bucket it serves: with
    max_utilization 1 and demand 1 request/s, coverage = slo_qps; the rest are placeholders).
    `coverages` gives one coverage per bucket in `buckets` (default: `coverage` for each)."""
    covs = coverages if coverages is not None else (coverage,) * len(buckets)
    return Candidate(
        id=id or f"{workload}@{gpu}/tp{tp}/cov{coverage}", workload=workload, workload_index=0, model="m",
        gpu=gpu, precision="fp16", kv_precision="fp16", tp=tp, batch=1, max_batch_memory=1, context_tokens=1,
        buckets=buckets, shares=shares, slo_qps=covs, max_utilization=1.0, demand_qps=1.0, ttft_s=0.1,
        tpot_s=0.01, e2e_s=1.0, prefill_s=0.1, decode_step_s=0.01, percentile=90, chunk_tokens=2048,
        mem_used_bytes=1.0, mem_capacity_bytes=2.0, bottleneck="memory",
    )


def server_type(id: str, rack_units: int, slots: int) -> ServerType:
    """A catalogue server type; only `rack_units` matters to the MILP (rack_space)."""
    return ServerType(id=id, name=id, gpu_forms=frozenset({"pcie"}), gpus_per_server=slots, host_power_w=0.0,
                      rack_units=rack_units, parts=(), confidence="test", source="test", as_of="")


def host(id: str, gpu: str, slots: int, kind: str = "instance", capex: float = 0.0, monthly: float = 0.0,
         power_w: float = 0.0, max_count: int | None = None, gpus_included: bool = True,
         rack_units: int | None = None, bays: int | None = None) -> HostType:
    """A host type: `kind` is instance (rented), server (bought) or owned (on hand). A bought PCIe
    server holds `slots` cards, or fewer than its `bays` where its PSU cannot power more."""
    return HostType(
        id=id, kind=kind, gpu=gpu, slots=slots, gpus_included=gpus_included, capex_usd=capex, monthly_usd=monthly,
        power_w=power_w, max_count=max_count, label=id, source="test", as_of="",
        server=server_type(f"st-{id}", rack_units, slots) if rack_units is not None else None, bays=bays,
    )


def card(gpu: str, capex: float, monthly: float = 0.0, power_w: float = 0.0) -> CardCost:
    """A PCIe card of `gpu`, bought into a server with gpus_included=False."""
    return CardCost(gpu=gpu, capex_usd=capex, monthly_usd=monthly, power_w=power_w, source="test", as_of="")


def problem(cands: list[Candidate], hosts: list[HostType], *, min_replicas: dict[str, int] | None = None,
            cards: dict[str, CardCost] | None = None, months: int = 1, pue: float = 1.0, **kw) -> MilpInput:
    """A MilpInput; `min_replicas` defaults to 0 for every workload of `cands`."""
    mins = {w: 0 for w in dict.fromkeys(c.workload for c in cands)}
    mins.update(min_replicas or {})
    buys = bool(cards) or any(h.kind == "server" for h in hosts)
    rents = any(h.kind == "instance" for h in hosts)
    pricing = "hybrid" if buys and rents else "buy" if buys else "rent"
    return MilpInput(pricing=pricing, candidates=cands, min_replicas=mins, hosts=hosts, cards=cards or {},
                     months=months, pue=pue, **kw)


def cost_of(inp: MilpInput, sol: MilpSolution) -> float:
    """The plan's cost (capex + months x monthly): the solver's objective, the tie-break taken off."""
    assert sol.status == "optimal", sol
    return sol.objective_usd - eps_usd(inp, sol)
