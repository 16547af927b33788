"""Engine launch commands (vLLM, SGLang) and benchmark commands (vLLM's `vllm bench serve`,
GuideLLM) for each deployment of a plan, as shell scripts with every value quoted (shlex.quote).

Flag names and values were checked against the engines' documentation:
- vLLM `vllm serve` engine arguments (docs.vllm.ai, CLI reference of v0.11: --tensor-parallel-size,
  --pipeline-parallel-size, --max-num-seqs, --max-model-len, --max-num-batched-tokens,
  --gpu-memory-utilization, --kv-cache-dtype {auto,fp8,fp8_e4m3,fp8_e5m2}, --quantization, --dtype,
  --trust-remote-code). A pre-quantised checkpoint gets no --quantization: vLLM reads the method
  from its config.json and upgrades AWQ/GPTQ to the Marlin kernels, while an explicit
  `--quantization awq` forces the slower kernel (vllm/model_executor/layers/quantization/
  awq_marlin.py, override_quantization_method).
- SGLang `python -m sglang.launch_server` server arguments (docs.sglang.io, advanced_features/
  server_arguments: --model-path, --tp-size, --max-running-requests, --context-length,
  --chunked-prefill-size, --mem-fraction-static, --kv-cache-dtype {auto,fp8_e4m3,fp8_e5m2},
  --quantization fp8 on a 16-bit checkpoint, a quantised checkpoint loaded without flags).
- `vllm bench serve` (docs.vllm.ai CLI reference bench/serve: --backend, --base-url, --endpoint,
  --dataset-name random, --random-input-len, --random-output-len, --random-range-ratio,
  --ignore-eos, --request-rate, --burstiness, --num-prompts, --percentile-metrics,
  --metric-percentiles, --save-result, --result-dir, --result-filename, --seed).
- GuideLLM `guidellm benchmark` (vllm-project/guidellm docs, getting-started/benchmark: --target,
  --model, --data "prompt_tokens=...,output_tokens=...", --rate-type, --rate, --max-requests,
  --output-path).
"""

from __future__ import annotations

import shlex

from planner.report.export_model import PORTS, Line, num, prompts_for

SGLANG_MEMORY_NOTE = ("SGLang's --mem-fraction-static counts weights and KV cache only (activations and CUDA "
                      "graphs use the rest); the plan's fraction is vLLM's, which counts everything: lower it if "
                      "SGLang runs out of memory")


def launch_args(line: Line, engine: str) -> list[str]:
    """The engine's command line for one replica of `line` (program and arguments)."""
    d, w = line.deployment, line.weights
    port = str(PORTS[engine])
    mem = num(line.mem_utilization)
    if engine == "vllm":
        args = ["vllm", "serve", w.model_path, "--host", "0.0.0.0", "--port", port,
                "--tensor-parallel-size", str(d.tp), "--pipeline-parallel-size", "1",
                "--max-num-seqs", str(d.batch_cap), "--max-model-len", str(d.context_tokens),
                "--max-num-batched-tokens", str(d.chunk_tokens), "--gpu-memory-utilization", mem,
                "--kv-cache-dtype", w.kv_cache]
    else:
        args = ["python", "-m", "sglang.launch_server", "--model-path", w.model_path, "--host", "0.0.0.0",
                "--port", port, "--tp-size", str(d.tp), "--max-running-requests", str(d.batch_cap),
                "--context-length", str(d.context_tokens), "--chunked-prefill-size", str(d.chunk_tokens),
                "--mem-fraction-static", mem, "--kv-cache-dtype", "fp8_e4m3" if w.kv_cache == "fp8" else "auto"]
    if w.dtype:
        args += ["--dtype", w.dtype]
    if w.online_quantization:
        args += ["--quantization", w.online_quantization]
    if w.remote_code:
        args.append("--trust-remote-code")
    return args


def shell_command(args: list[str], indent: str = "  ") -> str:
    """`args` as one shell command, every word quoted, one option per continued line."""
    words = [shlex.quote(a) for a in args]
    parts, current = [], []
    for word, raw in zip(words, args):
        if raw.startswith("--") and current:
            parts.append(" ".join(current))
            current = []
        current.append(word)
    parts.append(" ".join(current))
    return (" \\\n" + indent).join(parts)


def describe(line: Line) -> str:
    d = line.deployment
    return (f"{d.model} on {d.tp} x {line.gpu.name}, {d.precision} weights, {d.kv_precision} KV cache, "
            f"batch cap {d.batch_cap}, context {d.context_tokens} tokens")


def slo_lines(line: Line) -> list[str]:
    """What a benchmark of one replica must show: the SLO at its percentile and the plan's prediction."""
    d, slo = line.deployment, line.workload.slo
    if slo is None:
        total = sum(b.qps_per_replica for b in line.loads)
        return [f"batch job, no latency SLO: one replica must sustain {num(total)} requests/s "
                f"(planned p50 E2E {num(d.e2e_ms)} ms)"]
    limits = [f"{what} <= {num(v)} ms" for what, v in (("TTFT", slo.ttft_ms), ("TPOT", slo.tpot_ms),
                                                      ("E2E", slo.e2e_ms)) if v is not None]
    return [f"SLO: p{slo.percentile} " + ", ".join(limits),
            f"planned at this load (worst routed bucket): p{d.latency_percentile} TTFT {num(d.ttft_ms)} ms, "
            f"TPOT {num(d.tpot_ms)} ms, E2E {num(d.e2e_ms)} ms"]


def engine_mismatch(d, engine: str) -> str | None:
    """A note when the plan's latencies and capacities came from another engine's speed factors than
    the one this script starts; None when they match or the plan does not say."""
    planned = d.efficiency_factors.engine if d.efficiency_factors is not None else None
    if planned is None or planned == engine:
        return None
    return (f"the plan was sized with {planned}'s speed factors, and this script runs {engine}: its TTFT, "
            f"TPOT and capacity may differ; re-plan with planning.engine: {engine}, or check the replica "
            "with the benchmark scripts")


def launch_script(line: Line, engine: str, plan_label: str) -> str:
    """launch.sh: start one replica of `line` on this machine."""
    d = line.deployment
    head = [
        "#!/usr/bin/env bash",
        f"# {line.name}: {describe(line)}.",
        f"# Plan {plan_label}, candidate {d.candidate}: {d.replicas} replica(s), each on {d.tp} GPU(s);",
        "# run this once per replica (on its own host or GPU set), then put them behind router.yaml.",
        *(f"# note: {n}" for n in line.weights.notes),
        *([f"# note: {SGLANG_MEMORY_NOTE}"] if engine == "sglang" else []),
        *([f"# note: {n}"] if (n := engine_mismatch(d, engine)) else []),
        "set -euo pipefail",
    ]
    if not line.weights.runnable:
        return "\n".join(head + [f"echo {shlex.quote(line.weights.notes[0])} >&2", "exit 1"]) + "\n"
    return "\n".join(head + ["exec " + shell_command(launch_args(line, engine))]) + "\n"


def bench_script(line: Line, engine: str, default_url: str, duration_s: float, tool: str = "vllm") -> str:
    """bench.sh (`vllm bench serve`) or bench-guidellm.sh: the planned load of ONE replica, each routed
    length bucket as its own stream at its own rate, all at once (Poisson streams add up to the
    replica's Poisson arrivals); results in one JSON file per bucket. Usage: bench.sh [BASE_URL] [DIR]."""
    w = line.workload
    pct = w.slo.percentile if w.slo is not None else 50
    cv = w.arrival_cv
    head = [
        "#!/usr/bin/env bash",
        f"# Benchmark one replica of {line.name} ({describe(line)}) at its planned peak load,",
        f"# {duration_s:g} s of traffic: each routed length bucket as its own stream, all at once.",
        f"# Usage: {'bench.sh' if tool == 'vllm' else 'bench-guidellm.sh'} [BASE_URL] [RESULTS_DIR]"
        f"   (default {default_url}, results)",
        *(f"# {s}" for s in slo_lines(line)),
        "set -euo pipefail",
        f'BASE_URL="${{1:-{default_url}}}"',
        'RESULTS="${2:-results}"',
        'mkdir -p "$RESULTS"',
        "pids=()",
        *(f"echo {shlex.quote(s)}" for s in slo_lines(line)),
    ]
    if tool == "guidellm" and abs(cv - 1.0) > 1e-9:
        head.append(f"# note: GuideLLM has no burstiness setting: Poisson arrivals (cv 1) stand in for the planned "
                    f"arrival cv {num(cv)}; bench.sh (vllm bench serve --burstiness) reproduces it")
    body = []
    for b in line.loads:
        if b.qps_per_replica <= 0:
            continue
        n = prompts_for(b.qps_per_replica, duration_s)
        out = f"{line.name}-bucket{b.index}"
        if tool == "vllm":
            args = ["vllm", "bench", "serve", "--backend", "openai", "--base-url", "\0BASE_URL",
                    "--endpoint", "/v1/completions", "--model", line.weights.model_path,
                    "--dataset-name", "random", "--random-input-len", str(b.input_tokens),
                    "--random-output-len", str(b.output_tokens), "--random-range-ratio", "0", "--ignore-eos",
                    "--request-rate", num(b.qps_per_replica)]
            if cv > 0 and abs(cv - 1.0) > 1e-9:
                args += ["--burstiness", num(1.0 / (cv * cv))]  # gamma inter-arrivals: cv = 1/sqrt(burstiness)
            args += ["--num-prompts", str(n), "--percentile-metrics", "ttft,tpot,e2el",
                     "--metric-percentiles", "50" if pct == 50 else f"50,{pct}", "--seed", "0", "--save-result",
                     "--result-dir", "\0RESULTS", "--result-filename", out + ".json"]
        else:
            args = ["guidellm", "benchmark", "--target", "\0BASE_URL", "--model", line.weights.model_path,
                    "--data", f"prompt_tokens={b.input_tokens},output_tokens={b.output_tokens}",
                    "--rate-type", "poisson", "--rate", num(b.qps_per_replica), "--max-requests", str(n),
                    "--output-path", "\0RESULTS/" + out + ".json"]
        body.append(f"# bucket {b.index}: {b.input_tokens} prompt + {b.output_tokens} output tokens, "
                    f"{num(b.qps_per_replica)} requests/s, {n} requests")
        body.append(_with_vars(shell_command(args)) + " &")
        body.append("pids+=($!)")
    if not body:
        return "\n".join(head + ["echo 'no traffic is routed to this deployment at the peak' >&2"]) + "\n"
    return "\n".join(head + body + ['for pid in "${pids[@]}"; do wait "$pid"; done']) + "\n"


def _with_vars(command: str) -> str:
    """Put the shell variables (marked with NUL by the caller, so shlex.quote leaves them as words)
    back as double-quoted expansions."""
    return (command.replace("'\0BASE_URL'", '"$BASE_URL"').replace("\0BASE_URL", '"$BASE_URL"')
            .replace("'\0RESULTS/", '"$RESULTS"/\'').replace("'\0RESULTS'", '"$RESULTS"')
            .replace("\0RESULTS", '"$RESULTS"'))
