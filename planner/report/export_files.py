"""The files of `planner export`: per deployment launch and benchmark scripts, Kubernetes manifests,
the router file and a README listing them; in a fixed order, so the same plan gives the same bytes.

router.yaml (format `planner-router/v1`, defined here) is the plan's routing table for a length-aware
router or gateway rule:

    format: planner-router/v1
    plan: {name, pricing}
    workloads:
    - name, slo: {percentile, ttft_ms, tpot_ms, e2e_ms} | null
      backends: [{name, url, model, max_model_len, replicas}]
      buckets:  [{index, input_tokens, output_tokens, share, routes: [{backend, weight}]}]

A request of a workload belongs to the bucket whose (input_tokens, output_tokens) is nearest to
(its prompt tokens, its max_tokens) on a log scale; it goes to one of that bucket's backends with
probability `weight` (the weights of a bucket sum to 1), and never to a backend whose
`max_model_len` is below its prompt + max_tokens. Backend URLs are `http://NAME:PORT`: the
Kubernetes Service of the same name, or a host name you give each replica set.
"""

from __future__ import annotations

from planner.catalog.deploy_tables import DeployTables
from planner.report.export_engines import bench_script, describe, launch_script, slo_lines
from planner.report.export_k8s import IMAGES, dump_yaml, hosts_text, manifests, to_yaml
from planner.report.export_model import PORTS, ExportPlan, bucket_totals, num

TARGETS = ("vllm", "sglang", "k8s")
ROUTER_FORMAT = "planner-router/v1"


def router_record(plan: ExportPlan, engine: str) -> dict:
    by_id = {line.deployment.candidate: line for line in plan.lines}
    workloads = []
    for w in plan.workloads:
        lines = [line for line in plan.lines if line.deployment.workload == w.name]
        buckets: dict[int, dict] = {}
        totals = bucket_totals(w)
        for r in sorted(w.routing, key=lambda r: (r.bucket.index, by_id[r.deployment].name)):
            b = buckets.setdefault(r.bucket.index, {
                "index": r.bucket.index, "input_tokens": r.bucket.input_tokens,
                "output_tokens": r.bucket.output_tokens, "share": r.bucket.share, "routes": []})
            b["routes"].append({"backend": by_id[r.deployment].name, "weight": round(r.share_of_bucket / totals[r.bucket.index], 4)
                                if totals[r.bucket.index] > 0 else 0.0})
        slo = None
        if w.slo is not None:
            slo = {"percentile": w.slo.percentile,
                   **{k: v for k, v in (("ttft_ms", w.slo.ttft_ms), ("tpot_ms", w.slo.tpot_ms),
                                        ("e2e_ms", w.slo.e2e_ms)) if v is not None}}
        workloads.append({
            "name": w.name,
            "slo": slo,
            "backends": [{"name": line.name, "url": f"http://{line.name}:{PORTS[engine]}",
                          "model": line.weights.model_path, "max_model_len": line.deployment.context_tokens,
                          "replicas": line.deployment.replicas} for line in lines],
            "buckets": [buckets[i] for i in sorted(buckets)],
        })
    return {"format": ROUTER_FORMAT, "plan": {"name": plan.name, "pricing": plan.pricing}, "workloads": workloads}


def router_yaml(plan: ExportPlan, engine: str) -> str:
    head = ["# Routing table of the plan (format planner-router/v1, see README.md): per workload, which",
            "# backend serves which length bucket at what weight. Pick the bucket nearest (log scale) to",
            "# (prompt tokens, max_tokens); then a backend with probability = weight; never a backend whose",
            "# max_model_len is below prompt + max_tokens."]
    return "\n".join(head) + "\n" + dump_yaml(router_record(plan, engine))


def export_files(plan: ExportPlan, to: str, tables: DeployTables, *, engine: str | None = None,
                 image: str | None = None, bench_duration_s: float = 600.0) -> dict[str, str]:
    """Relative path -> file text, in the order written. `to` is vllm, sglang or k8s; `engine` the
    engine the k8s containers run (default vllm)."""
    eng = to if to in ("vllm", "sglang") else (engine or "vllm")
    label = f"{plan.name} ({plan.pricing})"
    files: dict[str, str] = {}
    for line in plan.lines:
        url = f"http://{line.name}:{PORTS[eng]}" if to == "k8s" else f"http://localhost:{PORTS[eng]}"
        if to != "k8s":
            files[f"{line.name}/launch.sh"] = launch_script(line, eng, label)
        files[f"{line.name}/bench.sh"] = bench_script(line, eng, url, bench_duration_s, "vllm")
        files[f"{line.name}/bench-guidellm.sh"] = bench_script(line, eng, url, bench_duration_s, "guidellm")
    if to == "k8s":
        for name, docs in manifests(plan, eng, tables, image):
            files[f"k8s/{name}"] = to_yaml(docs)
    files["router.yaml"] = router_yaml(plan, eng)
    files["README.md"] = _readme(plan, to, eng, tables, files, image, bench_duration_s)
    return files


def _readme(plan: ExportPlan, to: str, engine: str, tables: DeployTables, files: dict[str, str],
            image: str | None, duration_s: float) -> str:
    out = [f"# Deployment export: {plan.name} ({plan.pricing} plan)", "",
           f"Target: {to}" + (f" (containers run {engine}; image {image or 'per GPU vendor, see below'})"
                              if to == "k8s" else "") + ".", "", "## Deployments", ""]
    for line in plan.lines:
        d = line.deployment
        out.append(f"### {line.name}")
        out.append("")
        out.append(f"- workload `{d.workload}`, candidate `{d.candidate}`")
        out.append(f"- {describe(line)}; {d.replicas} replica(s); memory fraction {num(line.mem_utilization)}")
        out.append(f"- weights: `{line.weights.model_path}`")
        out += [f"- note: {n}" for n in line.weights.notes]
        node = tables.node_labels.get(line.gpu.id)
        if to == "k8s":
            out.append(f"- node affinity: `{node.label}` in {', '.join(f'`{v}`' for v in node.values)} "
                       f"({node.confidence}; {node.source})" if node else
                       f"- node affinity: none (no label known for {line.gpu.id}): add a node selector by hand")
            if image is None:
                key = (engine, line.gpu.vendor)
                out.append(f"- image: `{IMAGES.get(key, IMAGES[(engine, 'NVIDIA')])}`")
        if line.hosts:
            out.append(f"- planned hosts: {hosts_text(line.hosts)}")
        out += [f"- {s}" for s in slo_lines(line)]
        loads = ", ".join(f"bucket {b.index} ({b.input_tokens} in / {b.output_tokens} out) {num(b.qps_per_replica)}/s"
                          for b in line.loads) or "none"
        out.append(f"- planned requests per replica at the peak: {loads}")
        out.append("")
    out += ["## Files", ""]
    out += [f"- `{path}`" for path in files]
    out += ["- `README.md`", "",
            "Scripts: `launch.sh` starts one replica; `bench.sh [BASE_URL] [RESULTS_DIR]` replays one replica's",
            f"planned peak load for {duration_s:g} s with `vllm bench serve` (each length bucket as its own stream,",
            "all at once), `bench-guidellm.sh` the same with GuideLLM; compare the saved percentiles with the SLO",
            "each script prints. `router.yaml`: format planner-router/v1 (see the comment at its top).", ""]
    return "\n".join(out)


def as_stream(files: dict[str, str]) -> str:
    """All files as one text for stdout: each under a `# ==> path <==` line."""
    return "".join(f"# ==> {path} <==\n{text}" + ("" if text.endswith("\n") else "\n") + "\n"
                   for path, text in files.items())
