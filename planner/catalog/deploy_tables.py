"""What a deployment export needs from the catalogue: public checkpoints per (model, precision)
(`checkpoints.csv`) and the Kubernetes node label of each GPU (`gpu_node_labels.csv`).

Both tables are read with the one CSV reader (located errors) and checked against the catalogue's
model, precision and GPU ids.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

from planner.catalog.store import data_text, load_catalog
from planner.catalog.tables import CsvRow, read_csv
from planner.errors import CatalogError, Problem

CHECKPOINT_METHODS = ("none", "fp8", "compressed-tensors", "awq", "gptq")
"""How a checkpoint's weights are stored: `none` for a 16-bit release, else the
`quantization_config.quant_method` of its config.json (what vLLM and SGLang read to pick kernels)."""

CHECKPOINT_PRECISIONS = ("bf16", "fp8", "int8", "int8-wo", "int4")
"""Catalogue precisions a checkpoint row may carry; `bf16` stands for the 16-bit release."""

_REPO = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*/[A-Za-z0-9][A-Za-z0-9._-]*")
_LABEL_KEY = re.compile(r"([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?"
                        r"[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?")
LABEL_VALUE = re.compile(r"(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?")
"""A Kubernetes label value (at most 63 characters; checked apart)."""


@dataclass(frozen=True)
class Checkpoint:
    """A public Hugging Face checkpoint of a catalogue model at one precision."""

    model: str
    precision: str
    repo: str
    """Hugging Face repo id (`owner/name`)."""
    method: str
    """One of CHECKPOINT_METHODS."""
    remote_code: bool
    """The repo ships its own modelling code (engines need --trust-remote-code)."""
    verified: bool
    """The repo id was checked against a stored copy of its page when the row was written."""
    source: str
    as_of: str
    notes: str = ""


@dataclass(frozen=True)
class NodeLabel:
    """The node label a GPU's Kubernetes nodes carry, and its possible values."""

    gpu: str
    label: str
    """Label key, e.g. `nvidia.com/gpu.product` (NVIDIA GPU feature discovery)."""
    values: tuple[str, ...]
    confidence: str
    """`observed` (seen on real nodes or manifests) or `derived` (from the device name)."""
    source: str
    as_of: str
    notes: str = ""


@dataclass(frozen=True)
class DeployTables:
    checkpoints: dict[tuple[str, str], Checkpoint]
    """(model id, precision id) -> checkpoint."""
    node_labels: dict[str, NodeLabel]
    """GPU id -> its node label."""

    def checkpoint(self, model: str, precision: str) -> Checkpoint | None:
        return self.checkpoints.get((model, precision))


CHECKPOINT_COLUMNS = ("model", "precision", "repo", "method", "remote_code", "verified", "source", "as_of", "notes")
NODE_LABEL_COLUMNS = ("gpu", "label", "values", "confidence", "source", "as_of", "notes")


def parse_checkpoints(text: str, path: str, model_ids: set[str]) -> dict[tuple[str, str], Checkpoint]:
    """The rows of `checkpoints.csv`; every problem located (CatalogError)."""
    problems: list[Problem] = []
    out: dict[tuple[str, str], Checkpoint] = {}
    first: dict[tuple[str, str], int] = {}
    for line, data in read_csv(text, path, CHECKPOINT_COLUMNS):
        r = CsvRow(path, line, data, problems)
        model = r.str("model")
        if model and model not in model_ids:
            r._err("model", f"unknown model {model!r}", "a model id of catalog/models.csv")
        precision = r.choice("precision", CHECKPOINT_PRECISIONS)
        repo = r.str("repo")
        if repo and not _REPO.fullmatch(repo):
            r._err("repo", f"not a Hugging Face repo id (got {repo!r})", "owner/name")
        method = r.choice("method", CHECKPOINT_METHODS)
        if method and precision and (method == "none") != (precision == "bf16"):
            r._err("method", f"{method!r} does not fit precision {precision!r}",
                   "none for the bf16 (16-bit) release, a quantisation method otherwise")
        c = Checkpoint(model=model, precision=precision, repo=repo, method=method, remote_code=r.bool("remote_code"),
                       verified=r.bool("verified"), source=r.str("source"), as_of=r.date("as_of"),
                       notes=r.str("notes", required=False))
        key = (model, precision)
        if key in first:
            problems.append(Problem(f"second row for {model} at {precision} (first at line {first[key]})",
                                    file=path, line=line, key="model", expected="one row per (model, precision)"))
        first.setdefault(key, line)
        out[key] = c
    if problems:
        raise CatalogError(problems)
    return out


def parse_node_labels(text: str, path: str, gpu_ids: set[str]) -> dict[str, NodeLabel]:
    """The rows of `gpu_node_labels.csv`; every problem located (CatalogError)."""
    problems: list[Problem] = []
    out: dict[str, NodeLabel] = {}
    for line, data in read_csv(text, path, NODE_LABEL_COLUMNS):
        r = CsvRow(path, line, data, problems)
        gpu = r.str("gpu")
        if gpu and gpu not in gpu_ids:
            r._err("gpu", f"unknown gpu {gpu!r}", "a GPU id of catalog/gpus.csv")
        if gpu in out:
            r._err("gpu", f"second row for {gpu}", "one row per GPU")
        label = r.str("label")
        if label and not _LABEL_KEY.fullmatch(label):
            r._err("label", f"not a Kubernetes label key (got {label!r})", "prefix/name, e.g. nvidia.com/gpu.product")
        values = r.aliases("values")
        if not values:
            r._err("values", "is empty", "one or more label values separated by ';'")
        for v in values:
            if len(v) > 63 or not LABEL_VALUE.fullmatch(v):
                r._err("values", f"not a Kubernetes label value (got {v!r})",
                       "at most 63 letters, digits, '-', '_' or '.', starting and ending with a letter or digit")
        out[gpu] = NodeLabel(gpu=gpu, label=label, values=values,
                             confidence=r.choice("confidence", ("observed", "derived")), source=r.str("source"),
                             as_of=r.date("as_of"), notes=r.str("notes", required=False))
    if problems:
        raise CatalogError(problems)
    return out


@functools.lru_cache(maxsize=1)
def load_deploy_tables() -> DeployTables:
    """The shipped checkpoint and node-label tables (cached)."""
    cat = load_catalog()
    return DeployTables(
        checkpoints=parse_checkpoints(*data_text("checkpoints.csv"), set(cat.models.rows)),
        node_labels=parse_node_labels(*data_text("gpu_node_labels.csv"), set(cat.gpus.rows)),
    )
