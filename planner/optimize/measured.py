"""Candidates from measured capacity tables (`workloads[].capacity_table`, read by
`planner.serving.capacity_table`): the measurement overrides the model.

For a workload with a table, every model candidate (and rejection) on a GPU the table names is
dropped and one `MeasuredCandidate` per (GPU, precision, TP) of the table takes its place: it
serves the buckets the table gives it, at the table's requests/s per replica (its SLO capacity;
`max_utilization` applies on top, as for modelled candidates), and the rest of the chain treats it
like any candidate: dominance, the MILP, routing, placement, cost. Other GPUs keep their modelled
candidates. What the model would say of a measured deployment is not used: its latencies are not
predicted (reported as unknown: the table says the SLO holds up to its rate), it is not simulated,
and `verify` checks its routing and load against the table's capacities, not the model's. Memory
figures (batch cap, GiB per GPU) are the model's, for information.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from planner.catalog.quality import load_quality, shortfall
from planner.catalog.resolve import Resolved, ResolvedWorkload
from planner.optimize import candidates
from planner.optimize.candidates import Candidate, CandidateSet, Rejection, mark_dominated
from planner.perf.estimate import Deployment, default_kv_precision, max_batch, memory_breakdown
from planner.serving.capacity_table import MeasuredDeployment, workload_tables
from planner.serving.demand import demand_qps
from planner.serving.mix import LengthMix

NOT_PREDICTED = math.nan
"""Latency of a measured candidate: the model does not predict it (reports show "-" or null)."""


@dataclass
class MeasuredCandidate(Candidate):
    """A candidate whose per-bucket SLO capacity comes from a capacity table."""

    table: str = ""
    """`file:lines` of the table rows it was made from."""
    output_tokens: tuple[int, ...] = ()
    """Output tokens of each served bucket."""

    @property
    def output_tokens_per_s(self) -> float:
        """Output tokens/s of one replica at its planned capacity on its bucket mix."""
        total = sum(self.shares)
        return self.capacity_qps * sum(s / total * n for s, n in zip(self.shares, self.output_tokens))


def generate(res: Resolved, ladder: bool = False) -> CandidateSet:
    """`candidates.generate`, then every capacity table applied (`apply_tables`): the candidates a
    plan chooses from."""
    out = candidates.generate(res, ladder=ladder)
    apply_tables(res, out, ladder)
    return out


def apply_tables(res: Resolved, out: CandidateSet, ladder: bool = False) -> None:
    """Replace the modelled candidates of every workload with a capacity table by its measured
    ones, on the GPUs the table names, and mark dominance among the measured ones (dominance only
    compares candidates of one workload and GPU, so the others' marks stand). InputError for a
    defect in any table (all at once). Without `ladder`, the lower batch-cap rungs counted for the
    dropped candidates are taken off `ladder_skipped`."""
    tables = workload_tables(res.loaded, res.catalog, out.mixes)
    for w in res.workloads:
        measured = tables.get(w.name)
        if not measured:
            continue
        gpus = {m.gpu.id for m in measured}
        dropped = [c for c in out.candidates if c.workload == w.name and c.gpu in gpus]
        out.ladder_skipped -= 0 if ladder else sum(len(candidates.batch_ladder(c.batch)) - 1 for c in dropped)
        out.candidates = [c for c in out.candidates if not (c.workload == w.name and c.gpu in gpus)]
        out.rejections = [r for r in out.rejections if not (r.workload == w.name and r.gpu in gpus)]
        new = []
        for m in measured:  # min_quality holds for measured rows too
            short = shortfall(load_quality().figure(w.model, m.precision), w.spec.min_quality)
            if short is not None:
                out.rejections.append(Rejection(w.name, m.gpu.id, m.precision.id, m.tp, "below min_quality", *short))
            else:
                new.append(measured_candidate(res, w, out.mixes[w.name], m))
        mark_dominated(CandidateSet(candidates=new))
        out.candidates += new


def measured_candidate(res: Resolved, w: ResolvedWorkload, mix: LengthMix, m: MeasuredDeployment) -> MeasuredCandidate:
    """The candidate of one table deployment: its buckets, the table's rates as SLO capacities."""
    planning = res.spec.planning
    kv = w.kv_precision or res.catalog.precision(default_kv_precision(m.precision.id))
    d = Deployment(model=w.model, gpu=m.gpu, precision=m.precision, kv_precision=kv, tp=m.tp,
                   mem_utilization=planning.mem_utilization, max_num_seqs=planning.max_num_seqs,
                   max_num_batched_tokens=planning.max_num_batched_tokens, engine=w.engine)
    served = sorted(m.max_qps)
    buckets = [mix.buckets[b] for b in served]
    context = max(b.max_context_tokens for b in buckets)
    batch = max(1, max_batch(d, context))
    mem = memory_breakdown(d, batch, context)
    slo = w.spec.slo
    return MeasuredCandidate(
        id=f"{w.name}:{w.model.id}@{m.gpu.id}/{m.precision.id}/tp{m.tp}/measured",
        workload=w.name, workload_index=w.index, model=w.model.id, gpu=m.gpu.id, precision=m.precision.id,
        kv_precision=kv.id, tp=m.tp, batch=batch, max_batch_memory=batch, context_tokens=context,
        buckets=tuple(served), shares=tuple(b.share for b in buckets), slo_qps=tuple(m.max_qps[b] for b in served),
        max_utilization=w.max_utilization, demand_qps=demand_qps(w, 0.0), ttft_s=NOT_PREDICTED,
        tpot_s=NOT_PREDICTED, e2e_s=NOT_PREDICTED, prefill_s=NOT_PREDICTED, decode_step_s=NOT_PREDICTED,
        percentile=slo.percentile if slo is not None else 50, chunk_tokens=d.chunk_tokens,
        mem_used_bytes=mem.total, mem_capacity_bytes=mem.capacity, bottleneck="measured capacity",
        table=m.source, output_tokens=tuple(b.output_tokens for b in buckets),
    )
