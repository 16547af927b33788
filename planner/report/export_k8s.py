"""Kubernetes manifests for a plan: per deployment a Deployment (replicas as planned, the engine
container with the launch arguments of `export_engines`, GPUs per replica as an extended-resource
request, a required node affinity on the GPU's product label, probes on the engine's /health, a
memory-backed /dev/shm for tensor parallelism) and a ClusterIP Service named like it.

Resource names: `nvidia.com/gpu` (NVIDIA device plugin), `amd.com/gpu` (ROCm device plugin),
`habana.ai/gaudi` (Intel Gaudi device plugin). Node labels: catalog/gpu_node_labels.csv
(`nvidia.com/gpu.product` as NVIDIA GPU feature discovery writes it: the NVML device name with
spaces as '-', github.com/NVIDIA/k8s-device-plugin internal/lm/resource.go; `amd.com/gpu.product-name`
from the ROCm node labeller). Both engines answer GET /health with 200 once the model is loaded
(vLLM's OpenAI server; SGLang's http_server).
"""

from __future__ import annotations

import yaml

from planner.catalog.deploy_tables import DeployTables
from planner.report.export_engines import launch_args
from planner.report.export_model import PORTS, ExportPlan, Line, num

GPU_RESOURCES = {"NVIDIA": "nvidia.com/gpu", "AMD": "amd.com/gpu", "Intel": "habana.ai/gaudi"}

IMAGES = {
    ("vllm", "NVIDIA"): "vllm/vllm-openai:v0.11.0",
    ("vllm", "AMD"): "rocm/vllm:latest",
    ("sglang", "NVIDIA"): "lmsysorg/sglang:latest",
    ("sglang", "AMD"): "lmsysorg/sglang:latest-rocm",
}
"""Default container images (`--image` replaces them); pin a tag you have tested. The command is
given explicitly, so the image's own entrypoint does not matter."""

SHM_SIZE = "2Gi"
"""Memory-backed /dev/shm for NCCL between the tensor-parallel workers of one pod (Docker's default
64 MiB is too small); raise it if NCCL reports shared-memory errors."""

STARTUP_FAILURES = 180
"""Startup probe: 180 x 10 s = 30 minutes to download and load the weights before restarts."""


def label_value(text: str) -> str:
    """`text` as a Kubernetes label value: at most 63 of [A-Za-z0-9-_.], alphanumeric at both ends."""
    out = "".join(c if c.isalnum() or c in "-_." else "-" for c in text)[:63]
    return out.strip("-_.") or "plan"


def hosts_text(hosts: tuple[str, ...]) -> str:
    """`2 x server:pcie-4/rtx-5090-32gb, 1 x ...`: the planned host type of each replica, counted."""
    counts: dict[str, int] = {}
    for h in hosts:
        counts[h] = counts.get(h, 0) + 1
    return ", ".join(f"{n} x {h}" for h, n in counts.items())


def image_for(engine: str, vendor: str, image: str | None) -> str:
    return image or IMAGES.get((engine, vendor), IMAGES[(engine, "NVIDIA")])


def manifests(plan: ExportPlan, engine: str, tables: DeployTables, image: str | None = None) -> list[tuple[str, list[dict]]]:
    """(file name, [Deployment, Service]) per deployment line, in plan order."""
    return [(f"{line.name}.yaml", [_deployment(line, plan, engine, tables, image), _service(line, plan, engine)])
            for line in plan.lines]


def _labels(line: Line, plan: ExportPlan) -> dict:
    return {"app.kubernetes.io/name": line.name, "app.kubernetes.io/part-of": label_value(plan.name),
            "app.kubernetes.io/component": "inference-engine", "app.kubernetes.io/managed-by": "planner"}


def _deployment(line: Line, plan: ExportPlan, engine: str, tables: DeployTables, image: str | None) -> dict:
    d = line.deployment
    resource = GPU_RESOURCES.get(line.gpu.vendor, "nvidia.com/gpu")
    gpus = str(d.tp)
    args = launch_args(line, engine)
    program = args[:2] if engine == "vllm" else args[:3]
    probe = {"httpGet": {"path": "/health", "port": "http"}}
    container = {
        "name": "engine",
        "image": image_for(engine, line.gpu.vendor, image),
        "command": program,
        "args": args[len(program):],
        "ports": [{"name": "http", "containerPort": PORTS[engine], "protocol": "TCP"}],
        "env": [{"name": "HF_TOKEN", "valueFrom": {"secretKeyRef": {"name": "hf-token", "key": "token",
                                                                      "optional": True}}}],
        "resources": {"requests": {resource: gpus}, "limits": {resource: gpus}},
        "startupProbe": {**probe, "periodSeconds": 10, "failureThreshold": STARTUP_FAILURES},
        "readinessProbe": {**probe, "periodSeconds": 5, "failureThreshold": 3},
        "livenessProbe": {**probe, "periodSeconds": 10, "failureThreshold": 3},
    }
    pod: dict = {}
    node = tables.node_labels.get(line.gpu.id)
    if node is not None:
        pod["affinity"] = {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
            {"matchExpressions": [{"key": node.label, "operator": "In", "values": list(node.values)}]}]}}}
    if d.tp > 1:
        container["volumeMounts"] = [{"name": "dshm", "mountPath": "/dev/shm"}]
        pod["volumes"] = [{"name": "dshm", "emptyDir": {"medium": "Memory", "sizeLimit": SHM_SIZE}}]
    pod["containers"] = [container]
    annotations = {"planner/candidate": d.candidate, "planner/workload": d.workload,
                   "planner/gpu": f"{line.gpu.id} ({line.gpu.name})",
                   "planner/node-label": (f"{node.label} in {', '.join(node.values)} ({node.confidence}; {node.source})"
                                          if node else f"none known for {line.gpu.id}: add a node selector by hand"),
                   "planner/weights": "; ".join(line.weights.notes) or line.weights.model_path,
                   "planner/memory-fraction": num(line.mem_utilization)}
    if line.hosts:
        annotations["planner/planned-hosts"] = hosts_text(line.hosts)
    labels = _labels(line, plan)
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": line.name, "labels": labels, "annotations": annotations},
        "spec": {
            "replicas": d.replicas,
            "selector": {"matchLabels": {"app.kubernetes.io/name": line.name}},
            "template": {"metadata": {"labels": dict(labels)}, "spec": pod},
        },
    }


def _service(line: Line, plan: ExportPlan, engine: str) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": line.name, "labels": _labels(line, plan)},
        "spec": {"type": "ClusterIP", "selector": {"app.kubernetes.io/name": line.name},
                 "ports": [{"name": "http", "port": PORTS[engine], "targetPort": "http", "protocol": "TCP"}]},
    }


class _PlainDumper(yaml.SafeDumper):
    """SafeDumper writing a shared object in full each time (no &anchors and *aliases)."""

    def ignore_aliases(self, data) -> bool:
        return True


def dump_yaml(data, many: bool = False) -> str:
    """`data` (or each document of it, `many`) as YAML, keys in the order built (deterministic)."""
    kwargs = {"Dumper": _PlainDumper, "sort_keys": False, "default_flow_style": False, "allow_unicode": True,
              "width": 100}
    return yaml.dump_all(data, **kwargs) if many else yaml.dump(data, **kwargs)


def to_yaml(docs: list[dict]) -> str:
    """Documents as one multi-document YAML text."""
    return dump_yaml(docs, many=True)
