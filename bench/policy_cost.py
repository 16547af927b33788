"""What the mixing policy and N+1 redundancy cost on the seed problems (and two length-mix ones).

    python bench/policy_cost.py [--problems seed*,chat-rag-length-mix,fleet-20]

For each problem and each setting, the cheapest plan's cost per month (capex spread over the
horizon; the objective's first plan, once-jobs left out) and its increase over `free, none` (what
the planner did before it had a mixing policy and redundancy), with the deployment types of the
plan's workloads (the most in one hour, summed over workloads) and the number of hosts whose loss
leaves some online workload short. Settings:
- free, none: any mix of deployment types, no spare replica;
- routed, none: one deployment type per length bucket (per workload with one bucket), no spare;
- single, none: one deployment type per workload;
- routed, default (the shipped default): routed, and N+1 for online workloads of more than one replica;
- routed, n_plus_1: N+1 for every online workload, one replica or not;
- routed, zones: 3: every online workload spread over 3 hosts, any one of which may be lost.
planning.bucket_slices is dropped for routed and single. Problems with no online workload are
skipped. Prints a Markdown table (the README's): $/month (+% over free, none) [t: deployment types,
h: hosts whose loss leaves a workload short].
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import planner  # noqa: E402
from planner.errors import PlannerError  # noqa: E402
from planner.report.failure_out import resilience_records  # noqa: E402
from planner.spec.schema import Zones  # noqa: E402

SETTINGS = [("free", "none"), ("routed", "none"), ("single", "none"), ("routed", None), ("routed", "n_plus_1"),
            ("routed", Zones(zones=3))]


def label(redundancy) -> str:
    if isinstance(redundancy, Zones):
        return f"zones: {redundancy.zones}"
    return redundancy or "default"


def with_policy(loaded, mixing: str, redundancy: str | None):
    update = {"mixing": mixing, **({"bucket_slices": None} if mixing != "free" else {})}
    planning = loaded.spec.planning.model_copy(update=update)
    workloads = [w.model_copy(update={"redundancy": redundancy if w.kind == "traffic" else None})
                 for w in loaded.spec.workloads]
    spec = loaded.spec.model_copy(update={"planning": planning, "workloads": workloads})
    return dataclasses.replace(loaded, spec=spec)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--problems", default="seed*,chat-rag-length-mix,fleet-20")
    args = ap.parse_args()
    files = sorted({f for pat in args.problems.split(",") for f in (ROOT / "problems").glob(f"{pat}.yaml")})
    print("| problem | " + " | ".join(f"{m}, {label(r)}" for m, r in SETTINGS) + " |")
    print("|---|" + "---:|" * len(SETTINGS))
    t0 = time.perf_counter()
    for f in files:
        loaded = planner.load(f)
        if all(w.kind == "batch" for w in loaded.spec.workloads):
            continue  # no online workload: neither policy applies
        cells, base = [], None
        for mixing, redundancy in SETTINGS:
            try:
                out = planner.plan(with_policy(loaded, mixing, redundancy))
            except PlannerError as exc:
                cells.append(f"no plan ({type(exc).__name__})")
                continue
            plan = out.plans[0]
            usd = (plan.total_usd - plan.once_usd) / plan.horizon_months
            base = usd if base is None else base
            more = f" (+{usd / base - 1:.0%})" if (mixing, redundancy) != SETTINGS[0] and base else ""
            res = resilience_records(out.outcome, plan)
            types = sum(r["deployment_types"] for r in res)
            short = len({h["host"] for r in res for h in r["host_loss_short"]})
            cells.append(f"{usd:,.0f}{more} [{types} t, {short} h]")
        print(f"| `{f.stem}` | " + " | ".join(cells) + " |")
    print(f"\n{time.perf_counter() - t0:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
