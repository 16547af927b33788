"""A one-workload workload file for small end-to-end tests (Llama-3.1-8B chat, TP 1-2, FP16/INT8)."""

from __future__ import annotations


def small_spec(qps: float = 4.0, ttft_ms: float = 1000, tpot_ms: float = 60, gpus=("l4-24gb", "l40s-48gb"),
               objective: str = "rent", extra: str = "", datacenter_only: bool | None = None) -> str:
    """YAML text: one chat workload at `qps` with the given SLO on the allowed `gpus`; `extra` adds
    top-level keys (e.g. `costs:` or `rent:`); `datacenter_only` sets gpus.datacenter_only (false:
    GeForce cards may be bought into a colocation site)."""
    dc = "" if datacenter_only is None else f", datacenter_only: {str(datacenter_only).lower()}"
    return f"""
name: small
objective: {objective}
gpus: {{allow: [{", ".join(gpus)}]{dc}}}
planning: {{tp_degrees: [1, 2]}}
{extra}
workloads:
  - name: chat
    model: llama-3.1-8b
    precisions: [fp16, int8]
    traffic: {{peak_qps: {qps}, input_tokens: 512, output_tokens: 128}}
    slo: {{ttft_ms: {ttft_ms}, tpot_ms: {tpot_ms}}}
"""
