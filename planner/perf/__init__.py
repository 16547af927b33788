"""The performance and memory model: pure formulas, one function per formula, no I/O.

Units are in every name: `_bytes`, `_s`, `_flops`, `_gb_per_s`. Each function states its equation
and source. `memory` (weights, KV cache, activations, capacity), `roofline` (decode and prefill
step times, throughput, loaded latencies), `parallel` (tensor-parallel links and all-reduce);
`estimate` evaluates one deployment and `calibration` checks the model against measurements.
The formulas are re-exported here: `from planner import perf; perf.weight_bytes(...)`.
"""

from planner.catalog.models import attention_params_per_layer, param_count
from planner.perf.engines import deployment_efficiency, with_engine
from planner.perf.memory import (
    ACTIVATION_BYTES,
    CUDA_CONTEXT_BYTES,
    DEFAULT_MEM_UTILIZATION,
    DEFAULT_PREFILL_CHUNK_TOKENS,
    TP_COMM_BUFFER_BYTES,
    activation_bytes_per_gpu,
    default_max_num_batched_tokens,
    kv_cache_bytes,
    kv_cache_bytes_per_token,
    kv_cache_bytes_per_token_per_gpu,
    kv_heads_per_gpu,
    max_sequences,
    runtime_overhead_bytes_per_gpu,
    seed_memory_rule_of_thumb_bytes,
    usable_memory_bytes,
    weight_bytes,
    weight_bytes_per_gpu,
)
from planner.perf.parallel import (
    ALLREDUCE_LATENCY_S,
    allreduce_time_s,
    link_gb_per_s,
    tp_comm_time_s,
    tp_effective_bandwidth_gb_per_s,
)
from planner.perf.roofline import (
    StepTime,
    attention_flops_per_token,
    compute_time_s,
    decode_step_time,
    decode_weight_bytes_read_per_gpu,
    expected_experts_touched,
    linear_flops,
    loaded_tpot_s,
    loaded_ttft_s,
    prefill_flops,
    prefill_added_s,
    prefill_chunks,
    prefill_time,
    required_bandwidth_gb_per_s,
    steady_state_output_tokens_per_s,
)
from planner.units import GB, GIB

__all__ = [
    "ACTIVATION_BYTES",
    "ALLREDUCE_LATENCY_S",
    "CUDA_CONTEXT_BYTES",
    "DEFAULT_MEM_UTILIZATION",
    "DEFAULT_PREFILL_CHUNK_TOKENS",
    "GB",
    "GIB",
    "StepTime",
    "TP_COMM_BUFFER_BYTES",
    "activation_bytes_per_gpu",
    "default_max_num_batched_tokens",
    "allreduce_time_s",
    "attention_flops_per_token",
    "attention_params_per_layer",
    "compute_time_s",
    "decode_step_time",
    "deployment_efficiency",
    "decode_weight_bytes_read_per_gpu",
    "expected_experts_touched",
    "kv_cache_bytes",
    "kv_cache_bytes_per_token",
    "kv_cache_bytes_per_token_per_gpu",
    "kv_heads_per_gpu",
    "linear_flops",
    "link_gb_per_s",
    "loaded_tpot_s",
    "loaded_ttft_s",
    "max_sequences",
    "param_count",
    "prefill_flops",
    "prefill_added_s",
    "prefill_chunks",
    "prefill_time",
    "required_bandwidth_gb_per_s",
    "runtime_overhead_bytes_per_gpu",
    "seed_memory_rule_of_thumb_bytes",
    "steady_state_output_tokens_per_s",
    "with_engine",
    "tp_comm_time_s",
    "tp_effective_bandwidth_gb_per_s",
    "usable_memory_bytes",
    "weight_bytes",
    "weight_bytes_per_gpu",
]
