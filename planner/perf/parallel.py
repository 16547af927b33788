"""Tensor parallelism: the links between GPUs and the all-reduce time they impose.

Seed 003: tensor parallelism adds the GPUs' bandwidth, less the all-reduce cost.
"""

from __future__ import annotations

from planner.catalog.gpus import Gpu
from planner.catalog.models import Model
from planner.catalog.precisions import Efficiency
from planner.perf.memory import ACTIVATION_BYTES
from planner.units import GB

ALLREDUCE_LATENCY_S = {
    "nvlink": 10e-6,
    "nvlink-bridge": 12e-6,
    "infinity-fabric": 12e-6,
    "ethernet": 20e-6,
    "pcie": 30e-6,
}
"""Fixed cost of one small all-reduce, by link kind. NVIDIA nccl-tests on 8xH100 NVLink report
~10-15 us for small messages; vLLM's custom all-reduce reaches ~5-10 us; PCIe rings without P2P
pay ~25-40 us."""


def tp_effective_bandwidth_gb_per_s(bw_gb_per_s: float, tp: int, comm_loss: float) -> float:
    """Seed 003's simplified tensor-parallel bandwidth: the GPUs' bandwidth adds up, less the
    fraction of time lost to all-reduce: tp x BW x (1 - loss).

    Example: two A100s at 1,935 GB/s with 15 % loss -> 3,870 x 0.85 = 3,289.5 GB/s.
    (`decode_step_time` models the all-reduce explicitly instead.)
    """
    return tp * bw_gb_per_s * (1.0 - comm_loss)


def allreduce_time_s(payload_bytes: float, tp: int, link_gb_per_s: float, comm_eff: float, latency_s: float) -> float:
    """Ring all-reduce of `payload_bytes` over `tp` GPUs: latency + 2 (tp - 1) / tp x bytes / bandwidth.

    `link_gb_per_s` is one direction's bandwidth per GPU (half the bidirectional datasheet figure).
    Source: Patarasuk & Yuan, "Bandwidth optimal all-reduce algorithms" (2009); NCCL's bus-bandwidth
    definition (nccl-tests PERFORMANCE.md).
    """
    if tp <= 1:
        return 0.0
    return latency_s + 2.0 * (tp - 1) / tp * payload_bytes / (link_gb_per_s * GB * comm_eff)


def link_gb_per_s(gpu: Gpu, tp: int) -> tuple[float, str]:
    """One-direction GPU-to-GPU bandwidth for a TP group of `tp`, and the link used.

    The scale-up link (NVLink, bridge, Infinity Fabric) serves groups within its domain; larger
    groups, and cards with no link, fall back to PCIe.
    """
    if gpu.scaleup_kind != "pcie" and tp <= gpu.scaleup_domain_gpus and gpu.scaleup_bw_gb_per_s_bidir:
        return gpu.scaleup_bw_gb_per_s_bidir / 2.0, gpu.scaleup_kind
    bidir = gpu.pcie_bw_gb_per_s_bidir or gpu.scaleup_bw_gb_per_s_bidir or 32.0
    return bidir / 2.0, "pcie"


def tp_comm_time_s(m: Model, gpu: Gpu, tp: int, tokens: float, eff: Efficiency) -> float:
    """Tensor-parallel communication for one forward pass over `tokens` tokens: two all-reduces per
    layer (after attention and after the MLP, Megatron-LM, Shoeybi et al. 2019), each carrying
    tokens x hidden x 2 bytes."""
    if tp <= 1:
        return 0.0
    bw, kind = link_gb_per_s(gpu, tp)
    payload = tokens * m.hidden_size * ACTIVATION_BYTES
    return 2 * m.n_layers * allreduce_time_s(payload, tp, bw, eff.comm_eff, ALLREDUCE_LATENCY_S[kind])
