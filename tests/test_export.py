"""`planner export`: launch commands, Kubernetes manifests, router file and benchmark scripts.

The hand-built plan below (one workload, two length buckets, two deployments) has every number
chosen so that the expected flags and rates follow by hand; the shipped golden plans
(tests/golden/problems/*.json, full `planner solve --format json` outputs) are exported for every
target without solving again.
"""

from __future__ import annotations

import copy
import json
import re
import shlex
from pathlib import Path

import pytest
import yaml

from planner import api
from planner.catalog.deploy_tables import load_deploy_tables, parse_checkpoints
from planner.errors import CatalogError, InputError
from planner.report.export_engines import launch_args, shell_command
from planner.report.export_model import dns_names

REPO = Path(__file__).resolve().parent.parent
GOLDEN = sorted((REPO / "tests" / "golden" / "problems").glob("*.json"))
DNS_1035 = re.compile(r"[a-z]([-a-z0-9]*[a-z0-9])?")

H100 = "chat:llama-3.1-8b@h100-sxm-80gb/fp8/tp2/b128/ctx4096"
L40S = "chat:llama-3.1-8b@l40s-48gb/int4/tp1/b64"


def hand_plan() -> dict:
    """A plan record as `planner solve --format json` writes it, cut to what export reads.

    Workload `chat`: 10 requests/s at the peak (so each deployment's demand_qps is 10 x the share
    routed to it), p90 SLO TTFT 500 ms and TPOT 50 ms, Poisson arrivals (cv 1). Buckets: 0 = 1000
    prompt + 200 output tokens (share 0.75), 1 = 3000 + 500 (share 0.25). Routes: bucket 0 half to
    each deployment, bucket 1 all to H100. So H100 gets 10 x (0.75 x 0.5 + 0.25) = 6.25/s over 3
    replicas, L40S gets 10 x 0.375 = 3.75/s over 1 replica.
    """
    def dep(cid, gpu, precision, kv, tp, replicas, batch, ctx, chunk, demand, mem_cap, buckets):
        return {"pricing": "rent", "workload": "chat", "model": "llama-3.1-8b", "gpu": gpu, "precision": precision,
                "kv_precision": kv, "tp": tp, "replicas": replicas, "batch_cap": batch, "context_tokens": ctx,
                "buckets": buckets, "latency_percentile": 90, "ttft_ms": 300.0, "tpot_ms": 30.0, "e2e_ms": 9000.0,
                "capacity_qps": 9.0, "capacity_qps_per_replica": 3.0, "demand_qps": demand,
                "output_tokens_per_s_per_replica": 500.0, "utilization": 0.6, "capacity_used": 0.7,
                "mem_gib_per_gpu": 60.0, "mem_capacity_gib_per_gpu": mem_cap, "chunk_tokens": chunk,
                "bottleneck": "memory bandwidth", "candidate": cid}

    b0 = {"index": 0, "input_tokens": 1000, "output_tokens": 200, "share": 0.75}
    b1 = {"index": 1, "input_tokens": 3000, "output_tokens": 500, "share": 0.25}
    return {
        "name": "hand plan", "objective": "rent", "status": "optimal",
        "plans": [{
            "pricing": "rent", "status": "optimal",
            "deployments": [dep(H100, "h100-sxm-80gb", "fp8", "fp8", 2, 3, 128, 4096, 8192, 6.25, 71.271, [0, 1]),
                            dep(L40S, "l40s-48gb", "int4", "fp16", 1, 1, 64, 1200, 2048, 3.75, 40.06854, [0])],
            "workloads": [{"name": "chat", "lengths": "lengths", "arrival_cv": 1.0,
                           "slo": {"percentile": 90, "ttft_ms": 500.0, "tpot_ms": 50.0},
                           "routing": [{"bucket": b0, "deployment": H100, "share_of_bucket": 0.5},
                                       {"bucket": b0, "deployment": L40S, "share_of_bucket": 0.5},
                                       {"bucket": b1, "deployment": H100, "share_of_bucket": 1.0}]}],
            "placement": [{"host": "instance:x/8xh100 #1", "replicas": [H100, H100, H100]},
                          {"host": "instance:y/1xl40s #1", "replicas": [L40S]}],
            "cost": {"total_usd": 1000.0},
        }],
    }


@pytest.fixture
def hand_file(tmp_path: Path) -> Path:
    path = tmp_path / "plan.json"
    path.write_text(json.dumps(hand_plan(), indent=2), encoding="utf-8")
    return path


def lines_by_candidate(result: api.ExportResult) -> dict:
    return {line.deployment.candidate: line for line in result.plan.lines}


def test_vllm_launch_flags_derived_by_hand(hand_file):
    """H100 line: llama-3.1-8b fp8 with an FP8 checkpoint in catalog/checkpoints.csv
    (RedHatAI/Meta-Llama-3.1-8B-Instruct-FP8), so no --quantization; TP 2, PP 1; batch cap 128 ->
    --max-num-seqs 128; context 4096 -> --max-model-len 4096; chunk 8192 -> --max-num-batched-tokens;
    71.271 GiB usable of the 79.19 GiB an H100 reports -> --gpu-memory-utilization 0.9; FP8 KV -> --kv-cache-dtype fp8."""
    result = api.export(hand_file, to="vllm")
    line = lines_by_candidate(result)[H100]
    assert launch_args(line, "vllm") == [
        "vllm", "serve", "RedHatAI/Meta-Llama-3.1-8B-Instruct-FP8", "--host", "0.0.0.0", "--port", "8000",
        "--tensor-parallel-size", "2", "--pipeline-parallel-size", "1", "--max-num-seqs", "128",
        "--max-model-len", "4096", "--max-num-batched-tokens", "8192", "--gpu-memory-utilization", "0.9",
        "--kv-cache-dtype", "fp8"]
    # INT4 on the L40S: AWQ/GPTQ checkpoint RedHatAI/...-quantized.w4a16 (GPTQ), read from its config.json;
    # weight-only -> 16-bit activations (--dtype float16); FP16 KV -> auto; 40.06854 GiB of the 44.5206 GiB an L40S reports -> 0.9.
    l40s = lines_by_candidate(result)[L40S]
    args = launch_args(l40s, "vllm")
    assert args[2] == "RedHatAI/Meta-Llama-3.1-8B-Instruct-quantized.w4a16"
    assert "--quantization" not in args
    assert args[args.index("--dtype") + 1] == "float16"
    assert args[args.index("--kv-cache-dtype") + 1] == "auto"
    assert args[args.index("--gpu-memory-utilization") + 1] == "0.9"


def test_sglang_launch_flags_derived_by_hand(hand_file):
    """The same H100 line for SGLang: --tp-size 2, --max-running-requests 128, --context-length 4096,
    --chunked-prefill-size 8192, --mem-fraction-static 0.9, --kv-cache-dtype fp8_e4m3 (SGLang's name)."""
    line = lines_by_candidate(api.export(hand_file, to="sglang"))[H100]
    assert launch_args(line, "sglang") == [
        "python", "-m", "sglang.launch_server", "--model-path", "RedHatAI/Meta-Llama-3.1-8B-Instruct-FP8",
        "--host", "0.0.0.0", "--port", "30000", "--tp-size", "2", "--max-running-requests", "128",
        "--context-length", "4096", "--chunked-prefill-size", "8192", "--mem-fraction-static", "0.9",
        "--kv-cache-dtype", "fp8_e4m3"]


def test_precision_mapping_without_a_checkpoint(hand_file):
    """FP8 of a model with no FP8 checkpoint (llama-2-70b): the 16-bit release quantised while
    loading (--quantization fp8). INT8 W8A8 with none (qwen-7b): a local directory to quantise into,
    and the note says what to do. GGUF: not served, the script stops."""
    plan = hand_plan()
    dep = plan["plans"][0]["deployments"][0]
    dep["model"] = "llama-2-70b"
    hand_file.write_text(json.dumps(plan), encoding="utf-8")
    line = lines_by_candidate(api.export(hand_file, to="vllm"))[H100]
    args = launch_args(line, "vllm")
    assert args[2] == "meta-llama/Llama-2-70b-chat-hf" and args[args.index("--quantization") + 1] == "fp8"
    dep.update(model="qwen-7b", precision="int8", kv_precision="fp16")
    hand_file.write_text(json.dumps(plan), encoding="utf-8")
    result = api.export(hand_file, to="vllm")
    line = lines_by_candidate(result)[H100]
    assert line.weights.model_path == "models/qwen-7b-int8"
    assert "quantise Qwen/Qwen-7B-Chat to W8A8 INT8" in line.weights.notes[0]
    assert "--trust-remote-code" in launch_args(line, "vllm")
    dep.update(precision="gguf-q4_0")
    hand_file.write_text(json.dumps(plan), encoding="utf-8")
    result = api.export(hand_file, to="vllm")
    script = result.files[f"{lines_by_candidate(result)[H100].name}/launch.sh"]
    assert script.rstrip().endswith("exit 1") and "vllm serve" not in script


def test_bench_rates_and_router_weights(hand_file):
    """Per replica: H100 takes bucket 0 at 10 x 0.75 x 0.5 / 3 = 1.25/s and bucket 1 at 10 x 0.25 / 3
    = 0.8333/s; 600 s of it is ceil(750) = 750 and ceil(500) = 500 prompts. The p90 SLO gives
    --metric-percentiles 50,90. Router: bucket 0 split 0.5/0.5, bucket 1 all to the H100 line."""
    result = api.export(hand_file, to="vllm")
    line = lines_by_candidate(result)[H100]
    assert [(b.index, round(b.qps_per_replica, 4)) for b in line.loads] == [(0, 1.25), (1, 0.8333)]
    bench = result.files[f"{line.name}/bench.sh"]
    assert "--request-rate 1.25 \\\n  --num-prompts 750" in bench
    assert "--request-rate 0.8333 \\\n  --num-prompts 500" in bench
    assert "--metric-percentiles 50,90" in bench and "--burstiness" not in bench  # Poisson: no burstiness
    assert "--random-input-len 3000" in bench and "--random-output-len 500" in bench
    assert "SLO: p90 TTFT <= 500 ms, TPOT <= 50 ms" in bench
    guide = result.files[f"{line.name}/bench-guidellm.sh"]
    assert "--data prompt_tokens=1000,output_tokens=200" in guide and "--rate-type poisson" in guide
    router = yaml.safe_load(result.files["router.yaml"])
    assert router["format"] == "planner-router/v1"
    buckets = router["workloads"][0]["buckets"]
    names = dns_names([H100, L40S])
    assert [(r["backend"], r["weight"]) for r in buckets[0]["routes"]] == sorted([(names[H100], 0.5), (names[L40S], 0.5)])
    assert buckets[1]["routes"] == [{"backend": names[H100], "weight": 1.0}]


def test_over_covered_bucket_is_split_in_proportion(hand_file):
    """Routes may cover a bucket more than once (coverage is a lower bound in the MILP): bucket 1
    routed 1.0 to H100 and 0.25 to L40S totals 1.25, so the router weights are 0.8 and 0.2, and the
    H100's bucket-1 rate is its planned 10 x 0.25 share over 1.25, per replica: 2.5 / 1.25 / 3 = 0.6667/s."""
    plan = hand_plan()
    w = plan["plans"][0]["workloads"][0]
    w["routing"].append({"bucket": dict(w["routing"][2]["bucket"]), "deployment": L40S, "share_of_bucket": 0.25})
    hand_file.write_text(json.dumps(plan), encoding="utf-8")
    result = api.export(hand_file, to="vllm")
    line = lines_by_candidate(result)[H100]
    assert round(line.loads[1].qps_per_replica, 4) == 0.6667
    weights = {r["backend"]: r["weight"] for r in yaml.safe_load(result.files["router.yaml"])["workloads"][0]["buckets"][1]["routes"]}
    assert weights == {line.name: 0.8, lines_by_candidate(result)[L40S].name: 0.2}


def test_k8s_manifests_validate_against_the_kubernetes_schema(hand_file):
    """Deployment + Service per line validate (strict: no unknown fields) against the Kubernetes
    OpenAPI schema that kubernetes-validate ships; GPUs per replica = TP; node affinity on the GFD
    product label; /dev/shm only with TP > 1; replicas as planned."""
    kv = pytest.importorskip("kubernetes_validate")
    result = api.export(hand_file, to="k8s")
    for cid, line in lines_by_candidate(result).items():
        docs = list(yaml.safe_load_all(result.files[f"k8s/{line.name}.yaml"]))
        assert [d["kind"] for d in docs] == ["Deployment", "Service"]
        for d in docs:
            kv.validate(d, kv.latest_version(), strict=True)
        dep = docs[0]
        pod = dep["spec"]["template"]["spec"]
        container = pod["containers"][0]
        tp = line.deployment.tp
        assert dep["spec"]["replicas"] == line.deployment.replicas
        assert container["resources"]["limits"] == {"nvidia.com/gpu": str(tp)}
        assert container["readinessProbe"]["httpGet"]["path"] == "/health"
        term = pod["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"][0]
        expr = term["matchExpressions"][0]
        assert expr["key"] == "nvidia.com/gpu.product"
        assert expr["values"] == (["NVIDIA-H100-80GB-HBM3"] if cid == H100 else ["NVIDIA-L40S"])
        assert ("volumes" in pod) == (tp > 1)
        assert container["command"] + container["args"] == launch_args(line, "vllm")
        assert docs[1]["metadata"]["name"] == line.name and DNS_1035.fullmatch(line.name)


@pytest.mark.parametrize("path", GOLDEN, ids=lambda p: p.stem)
def test_every_golden_plan_exports_for_every_target(path):
    """Each shipped problem's plan (the golden JSON) exports for vllm, sglang and k8s; names are
    DNS-1035 labels; every GPU the shipped plans use has a node label in the catalogue."""
    kv = pytest.importorskip("kubernetes_validate")
    tables = load_deploy_tables()
    doc = json.loads(path.read_text(encoding="utf-8"))
    for pricing in sorted({p["pricing"] for p in doc["plans"]}):
        for to in ("vllm", "sglang", "k8s"):
            result = api.export(path, to=to, pricing=pricing)
            assert "router.yaml" in result.files and "README.md" in result.files
            for line in result.plan.lines:
                assert DNS_1035.fullmatch(line.name) and len(line.name) <= 63
                assert line.gpu.id in tables.node_labels
            if to == "k8s":
                for rel, text in result.files.items():
                    if rel.startswith("k8s/"):
                        for d in yaml.safe_load_all(text):
                            kv.validate(d, kv.latest_version(), strict=True)


def test_export_from_a_workload_file_solves_first(run_cli, tmp_path):
    """A workload YAML is solved through the facade, then exported; --out writes the same files as
    stdout shows, scripts executable; two runs are byte-identical."""
    src = REPO / "problems" / "seed001-qwen7b-50-users.yaml"
    code, out1, err = run_cli(["export", src, "--to", "vllm", "--today", "2026-11-21", "--no-progress"])
    assert code == 0, err
    code, out2, _ = run_cli(["export", src, "--to", "vllm", "--today", "2026-11-21", "--no-progress"])
    assert out1 == out2
    code, msg, err = run_cli(["export", src, "--to", "vllm", "--today", "2026-11-21", "--no-progress",
                              "--out", tmp_path / "x"])
    assert code == 0, err
    written = {p.relative_to(tmp_path / "x").as_posix(): p for p in (tmp_path / "x").rglob("*") if p.is_file()}
    for rel, p in written.items():
        assert f"# ==> {rel} <==\n{p.read_text(encoding='utf-8')}" in out1
        if rel.endswith(".sh"):
            assert p.stat().st_mode & 0o111
    assert any(rel.endswith("launch.sh") for rel in written)


@pytest.mark.parametrize("to", ["vllm", "sglang", "k8s"])
def test_golden_exports_are_deterministic(run_cli, to):
    path = REPO / "tests" / "golden" / "problems" / "multi-model-fleet.json"
    first = run_cli(["export", path, "--to", to])
    assert first[0] == 0 and first == run_cli(["export", path, "--to", to])


def test_shell_words_are_quoted():
    """Every value goes through shlex.quote: a hostile path stays one literal word."""
    cmd = shell_command(["vllm", "serve", "$(touch x); rm -rf /", "--port", "8000"])
    assert shlex.split(cmd.replace("\\\n", " ")) == ["vllm", "serve", "$(touch x); rm -rf /", "--port", "8000"]


def test_launch_script_parses_back_to_the_launch_args(hand_file):
    result = api.export(hand_file, to="vllm")
    line = lines_by_candidate(result)[H100]
    script = result.files[f"{line.name}/launch.sh"]
    command = script.split("exec ", 1)[1].replace("\\\n", " ")
    assert shlex.split(command) == launch_args(line, "vllm")


def test_dns_names_are_stable_short_and_unique():
    """Workload + deployment part of the id; past 63 characters, or when two ids give one name, the
    tail is 8 hex digits of the id's SHA-256 (same id, same name)."""
    long_id = "deep-reasoning-with-a-long-workload-name:deepseek-r1-distill-llama-70b@rtx-pro-6000-96gb/int4/tp1/b38"
    names = dns_names(["qwen7b-chat:qwen-7b@rtx-3090-24gb/int8/tp1/b33", long_id, "a.b:m@g/x", "a-b:m@g/x", "9x:m@g"])
    assert names["qwen7b-chat:qwen-7b@rtx-3090-24gb/int8/tp1/b33"] == "qwen7b-chat-rtx-3090-24gb-int8-tp1-b33"
    assert len(names[long_id]) <= 63 and re.search(r"-[0-9a-f]{8}$", names[long_id])
    assert names["a.b:m@g/x"] != names["a-b:m@g/x"]
    assert names["9x:m@g"].startswith("d-")
    assert all(DNS_1035.fullmatch(n) for n in names.values())
    assert dns_names([long_id]) == {long_id: names[long_id]}


def test_default_plan_choice(hand_file, tmp_path):
    """compare: the plan cheaper over the horizon (by cost.total_usd); --plan picks another; a
    pricing the file lacks is exit 2."""
    plan = hand_plan()
    buy = copy.deepcopy(plan["plans"][0])
    buy["pricing"], buy["cost"] = "buy", {"total_usd": 500.0}
    plan["plans"].append(buy)
    plan["objective"] = "compare"
    hand_file.write_text(json.dumps(plan), encoding="utf-8")
    assert api.export(hand_file, to="vllm").plan.pricing == "buy"
    assert api.export(hand_file, to="vllm", pricing="rent").plan.pricing == "rent"
    plan["plans"].pop()
    hand_file.write_text(json.dumps(plan), encoding="utf-8")
    with pytest.raises(InputError, match="no buy plan in this file"):
        api.export(hand_file, to="vllm", pricing="buy")


def test_bad_inputs_exit_2_with_located_messages(run_cli, tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text('{"name": "x",\n  "plans": [1,]\n}\n', encoding="utf-8")
    code, _, err = run_cli(["export", bad, "--to", "vllm"])
    assert code == 2 and f"{bad}:2:" in err and "not JSON" in err

    bad.write_text("[1, 2]\n", encoding="utf-8")
    code, _, err = run_cli(["export", bad, "--to", "vllm"])
    assert code == 2 and f"{bad}:1:1: not a plan: a JSON list" in err

    plan = hand_plan()  # a plan from another version: a key the export reads is missing
    del plan["plans"][0]["deployments"][1]["chunk_tokens"]
    plan["plans"][0]["deployments"][0]["tp"] = "two"
    bad.write_text(json.dumps(plan, indent=2), encoding="utf-8")
    code, _, err = run_cli(["export", bad, "--to", "vllm"])
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 2, err
    assert re.match(rf"error: {re.escape(str(bad))}:\d+:\d+: plans\[0\]\.deployments\[0\]\.tp: .*integer.*\"two\"", lines[0])
    assert re.match(rf"error: {re.escape(str(bad))}:\d+:\d+: plans\[0\]\.deployments\[1\]\.chunk_tokens: missing key; "
                    r"expected a plan JSON", lines[1])

    plan = hand_plan()
    plan["plans"][0]["deployments"][0]["gpu"] = "h900"
    bad.write_text(json.dumps(plan), encoding="utf-8")
    code, _, err = run_cli(["export", bad, "--to", "vllm"])
    assert code == 2 and "plans[0].deployments[0].gpu: unknown gpu 'h900'" in err

    plan = hand_plan()  # a plan from a later contract version
    plan["format"] = "planner-plan/9"
    bad.write_text(json.dumps(plan, indent=1), encoding="utf-8")
    code, _, err = run_cli(["export", bad, "--to", "vllm"])
    assert code == 2 and re.search(rf"{re.escape(str(bad))}:\d+:\d+: format: .*planner-plan/1", err), err

    code, _, err = run_cli(["export", tmp_path / "missing.json", "--to", "vllm"])
    assert code == 2 and "missing.json: cannot read file" in err
    code, _, err = run_cli(["export", bad, "--to", "docker"])
    assert code == 2 and "docker" in err
    with pytest.raises(InputError, match="--to: unknown export target 'docker'"):
        api.export(bad, to="docker")


def test_checkpoint_table_errors_are_located():
    text = ("model,precision,repo,method,remote_code,verified,source,as_of,notes\n"
            "llama-3.1-8b,fp8,not a repo,fp8,false,yes,x,2026-12-05,\n"
            "nosuch,int4,a/b,none,false,yes,x,2026-12-05,\n")
    with pytest.raises(CatalogError) as exc:
        parse_checkpoints(text, "catalog/checkpoints.csv", {"llama-3.1-8b"})
    lines = exc.value.lines()
    assert "catalog/checkpoints.csv:2: repo: not a Hugging Face repo id (got 'not a repo'); expected owner/name" in lines
    assert any(s.startswith("catalog/checkpoints.csv:3: model: unknown model 'nosuch'") for s in lines)
    assert any(s.startswith("catalog/checkpoints.csv:3: method: 'none' does not fit precision 'int4'") for s in lines)


def test_readme_export_sample_is_current(run_cli, tmp_path):
    """The README's Export section shows exactly the launch.sh this command writes."""
    code, _, err = run_cli(["export", REPO / "problems" / "seed001-qwen7b-50-users.yaml", "--to", "vllm",
                            "--today", "2026-11-21", "--no-progress", "--out", tmp_path])
    assert code == 0, err
    script = (tmp_path / "qwen7b-chat-rtx-3090-24gb-int8-tp1-b34" / "launch.sh").read_text(encoding="utf-8")
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert script in readme, "README Export sample is stale: paste the launch.sh it writes"
    assert "$ planner export problems/seed001-qwen7b-50-users.yaml --to vllm --today 2026-11-21 --out deploy" in readme


def test_export_result_frame(hand_file):
    """One row per deployment, in plan order: H100 line with 3 replicas of 2 GPUs, then the L40S line."""
    frame = api.export(hand_file, to="vllm").to_frame()
    assert list(frame["candidate"]) == [H100, L40S]
    assert list(frame["replicas"]) == [3, 1] and list(frame["gpus_per_replica"]) == [2, 1]


def test_engine_and_image_only_with_k8s(run_cli, hand_file):
    code, _, err = run_cli(["export", hand_file, "--to", "vllm", "--engine", "sglang"])
    assert code == 2 and "--engine: --to vllm runs vllm, not sglang" in err
    code, _, err = run_cli(["export", hand_file, "--to", "sglang", "--image", "x"])
    assert code == 2 and "--image: a container image is for --to k8s only" in err
    code, out, err = run_cli(["export", hand_file, "--to", "k8s", "--engine", "sglang", "--image", "my/sglang:1"])
    assert code == 0, err
    assert "image: my/sglang:1" in out and "- sglang.launch_server" in out and "containerPort: 30000" in out


def test_launch_script_notes_an_engine_other_than_the_planned_one(run_cli, tmp_path):
    """seed001 is planned with vLLM's factors (the default engine): its vLLM script carries no engine
    note, its SGLang script says the plan was sized with vllm's factors. Planned with
    `planning.engine: sglang`, the opposite."""
    import yaml

    src = REPO / "problems" / "seed001-qwen7b-50-users.yaml"
    data = yaml.safe_load(src.read_text(encoding="utf-8"))
    data.setdefault("planning", {})["engine"] = "sglang"
    other = tmp_path / "seed001-sglang.yaml"
    other.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    for path, planned in ((src, "vllm"), (other, "sglang")):
        for to in ("vllm", "sglang"):
            code, out, err = run_cli(["export", path, "--to", to, "--today", "2026-11-21", "--no-progress"])
            assert code == 0, err
            note = f"# note: the plan was sized with {planned}'s speed factors, and this script runs {to}:"
            assert (note in out) == (planned != to), (planned, to)
