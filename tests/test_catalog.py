"""The shipped catalogue: sizes, provenance, name resolution, datasheet figures that the seeds get
wrong, located errors for malformed rows, and models read from a Hugging Face config.json."""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path

import pytest

from planner.catalog.gpus import parse_gpus
from planner.catalog.models import Model
from planner.errors import CatalogError, InputError

CATALOG_DIR = Path(__file__).resolve().parent.parent / "catalog"
DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


# ---------------------------------------------------------------------------------------------
# Sizes and provenance
# ---------------------------------------------------------------------------------------------


def test_catalogue_has_at_least_25_gpus_with_bandwidth_and_fp16(cat):
    """At least 25 GPUs carry both a memory bandwidth (> 0 GB/s) and a dense FP16 tensor figure:
    the planner compares decode (bandwidth) and prefill (FP16 compute) across them."""
    usable = [g.id for g in cat.gpus.rows.values()
              if g.mem_bw_gb_per_s > 0 and g.peak_tflops.get("fp16") is not None]
    assert len(usable) >= 25, usable


def test_catalogue_has_at_least_20_models(cat):
    """At least 20 model architectures are shipped."""
    assert len(cat.models.rows) >= 20, sorted(cat.models.rows)


@pytest.mark.parametrize("precision", ["fp32", "fp16", "bf16", "fp8", "int8", "int4"])
def test_core_precisions_present(cat, precision):
    """Each core precision is a row of catalog/precisions.csv (by id)."""
    assert precision in cat.precisions.rows


def _provenance_rows(cat):
    for g in cat.gpus.rows.values():
        yield f"gpu {g.id}", g.source, g.as_of
    for m in cat.models.rows.values():
        yield f"model {m.id}", m.source, m.as_of
    for p in cat.precisions.rows.values():
        yield f"precision {p.id}", p.source, p.as_of
    for e in cat.efficiency.values():
        yield f"efficiency {e.family}", e.source, e.as_of


def test_every_row_has_source_and_full_as_of_date(cat):
    """Every GPU, model, precision and efficiency row names a non-empty source and an as_of date
    in full YYYY-MM-DD form (the loader itself also accepts YYYY-MM; the shipped rows must not)."""
    bad = [(what, src, as_of) for what, src, as_of in _provenance_rows(cat)
           if not src.strip() or not DATE.fullmatch(as_of)]
    assert not bad
    # The walk covered all four tables (a vacuous pass would hide an empty table).
    kinds = {what.split()[0] for what, _, _ in _provenance_rows(cat)}
    assert kinds == {"gpu", "model", "precision", "efficiency"}


# ---------------------------------------------------------------------------------------------
# Name resolution
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name, expected",
    [
        ("H100", "h100-sxm-80gb"),
        ("H100 SXM", "h100-sxm-80gb"),
        ("H100-SXM-80GB", "h100-sxm-80gb"),
        ("h100-sxm5-80gb", "h100-sxm-80gb"),
        ("h100", "h100-sxm-80gb"),
        ("h100 sxm", "h100-sxm-80gb"),
        ("h100_sxm", "h100-sxm-80gb"),
        ("H100-SXM5-80GB", "h100-sxm-80gb"),
        ("A100", "a100-sxm-80gb"),
        ("a100", "a100-sxm-80gb"),
        ("A100 80GB", "a100-sxm-80gb"),
        ("a100-sxm4-80gb", "a100-sxm-80gb"),
        ("A100 40GB", "a100-sxm-40gb"),
        ("A100-SXM4-40GB", "a100-sxm-40gb"),
        ("A100 PCIe", "a100-pcie-80gb"),
        ("4090", "rtx-4090-24gb"),
        ("RTX 4090", "rtx-4090-24gb"),
    ],
)
def test_gpu_alias_resolution(cat, name, expected):
    """Ids and aliases in catalog/gpus.csv resolve case-insensitively, spaces and underscores read
    as hyphens (e.g. the h100-sxm-80gb row lists `H100;H100 SXM;H100 SXM5;H100-SXM5-80GB;...`,
    the a100-sxm-80gb row `A100;A100 80GB;...;A100-SXM4-80GB`, rtx-4090-24gb `RTX 4090;4090`)."""
    assert cat.gpu(name).id == expected


def _calibration_rows():
    with open(CATALOG_DIR / "measured" / "calibration.csv", encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


@pytest.mark.parametrize("column, resolve", [("gpu", "gpu"), ("model", "model")])
def test_calibration_names_resolve(cat, column, resolve):
    """Every `gpu` and `model` of catalog/measured/calibration.csv names a catalogue row. GPU labels
    are read with their parenthesised qualifier stripped (`MI250X (1 GCD, 64GB)` -> `MI250X`);
    Apple GPUs are excluded, as the catalogue does not model them."""
    names = {re.sub(r"\s*\(.*?\)", "", r[column]).strip() for r in _calibration_rows()}
    names = {n for n in names if not n.lower().startswith("apple")}
    assert len(names) >= 10  # the file really was read
    unresolved = []
    for n in sorted(names):
        try:
            getattr(cat, resolve)(n)
        except CatalogError as exc:
            unresolved.append(f"{n}: {exc}")
    assert not unresolved


# ---------------------------------------------------------------------------------------------
# Figures the seeds get wrong
# ---------------------------------------------------------------------------------------------


def test_h100_sxm_fp16_is_dense_half_of_seed_003_sparse_figure(cat):
    """H100 SXM dense FP16 tensor throughput is 989.5 TFLOPS (NVIDIA H100 datasheet: 1,979 TFLOPS
    "with sparsity"; dense = 1979 / 2 = 989.5). Seed 003 quotes "FP16: 1,979 TFLOPS" and "FP8:
    3,958", the sparse figures, as if dense; the catalogue keeps dense figures only, so its FP8 is
    1979 (= 3958 / 2)."""
    h100 = cat.gpu("h100-sxm-80gb")
    seed_003_fp16_sparse = 1979.0
    assert h100.tflops("fp16") == pytest.approx(989.5)
    assert h100.tflops("fp16") == pytest.approx(seed_003_fp16_sparse / 2)
    assert h100.tflops("bf16") == pytest.approx(989.5)
    assert h100.tflops("fp8") == pytest.approx(1979.0)


def test_llama_2_70b_uses_gqa_despite_seed_003(cat):
    """Llama-2-70B has 8 KV heads for 64 query heads (GQA; meta-llama/Llama-2-70b-hf config.json
    num_key_value_heads 8), although seed 003 says the old Llama-2-70B lacks GQA (and so has an 8x
    larger KV cache)."""
    m = cat.model("llama-2-70b")
    assert m.n_heads == 64
    assert m.n_kv_heads == 8
    assert m.attention == "gqa"


@pytest.mark.parametrize("model_id, heads", [("llama-2-7b", 32), ("llama-2-13b", 40)])
def test_small_llama_2_are_mha(cat, model_id, heads):
    """Llama-2-7B (32 heads) and 13B (40 heads) have no GQA: n_kv_heads == n_heads (their HF
    configs have num_key_value_heads equal to num_attention_heads)."""
    m = cat.model(model_id)
    assert m.n_heads == heads
    assert m.n_kv_heads == m.n_heads
    assert m.attention == "mha"


# ---------------------------------------------------------------------------------------------
# Licence, market and precision support flags
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["RTX 4090", "RTX 3090"])
def test_geforce_cards_flagged(cat, name):
    """GeForce cards carry the GeForce driver-EULA flag (no datacentre deployment)."""
    assert cat.gpu(name).geforce_eula is True


@pytest.mark.parametrize("name", ["H100", "A100", "L40S"])
def test_datacentre_cards_not_flagged(cat, name):
    """Datacentre cards do not carry the GeForce EULA flag (so the flag is not set everywhere)."""
    assert cat.gpu(name).geforce_eula is False


@pytest.mark.parametrize("name, market", [("H20", "china"), ("L20", "china"), ("H100", "global")])
def test_market(cat, name, market):
    """H20 and L20 are China export-compliance SKUs (market china); H100 is sold globally."""
    assert cat.gpu(name).market == market


def test_fp8_support(cat):
    """A100 (Ampere) has no FP8 tensor path (catalogue: unsupported); H100 (Hopper) runs FP8."""
    assert cat.gpu("A100").supports("fp8") is False
    assert cat.gpu("H100").supports("fp8") is True


def test_v100_has_no_bf16(cat):
    """V100 (Volta) has no BF16 tensor path (BF16 tensor cores arrived with Ampere), while it
    does run FP16."""
    v100 = cat.gpu("V100")
    assert v100.supports("bf16") is False
    assert v100.supports("fp16") is True


# ---------------------------------------------------------------------------------------------
# Did-you-mean
# ---------------------------------------------------------------------------------------------


def test_unknown_model_suggests_close_name(cat):
    """A misspelt model name raises CatalogError whose message suggests the right id."""
    with pytest.raises(CatalogError) as info:
        cat.model("lama-3-70b")
    assert "llama-3-70b" in str(info.value)
    assert "Did you mean" in str(info.value)


def test_unknown_gpu_suggests_close_name(cat):
    """`h1000` suggests h100-sxm-80gb."""
    with pytest.raises(CatalogError) as info:
        cat.gpu("h1000")
    assert "h100-sxm-80gb" in str(info.value)


# ---------------------------------------------------------------------------------------------
# Malformed catalogue rows
# ---------------------------------------------------------------------------------------------


def _gpus_header_and_row() -> tuple[list[str], dict[str, str]]:
    """The header of catalog/gpus.csv and its h100-sxm-80gb row (a known-good row to corrupt)."""
    text = (CATALOG_DIR / "gpus.csv").read_text(encoding="utf-8")
    reader = csv.DictReader(io.StringIO(text))
    row = next(r for r in reader if r["id"] == "h100-sxm-80gb")
    return list(reader.fieldnames), row


def _gpus_csv(header: list[str], *rows: dict[str, str]) -> str:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=header, lineterminator="\n")
    w.writeheader()
    for r in rows:
        w.writerow(r)
    return buf.getvalue()


def test_good_row_parses():
    """The unmodified h100-sxm-80gb row parses on its own (so the failures below come from the
    one defect each introduces)."""
    header, row = _gpus_header_and_row()
    table = parse_gpus(_gpus_csv(header, row), "x.csv")
    assert table.rows["h100-sxm-80gb"].mem_bw_gb_per_s == pytest.approx(3350)


def test_non_numeric_bandwidth_is_located():
    """mem_bw_gb_per_s `abc` on the first data row is reported as `x.csv:2: mem_bw_gb_per_s: not
    a number` (line 2: line 1 is the header)."""
    header, row = _gpus_header_and_row()
    with pytest.raises(CatalogError) as info:
        parse_gpus(_gpus_csv(header, {**row, "mem_bw_gb_per_s": "abc"}), "x.csv")
    assert "x.csv:2: mem_bw_gb_per_s: not a number" in str(info.value)


def test_duplicate_id_is_reported():
    """Two rows with the same id: the error names the duplicate and the second row's line (3)."""
    header, row = _gpus_header_and_row()
    with pytest.raises(CatalogError) as info:
        parse_gpus(_gpus_csv(header, row, row), "x.csv")
    msg = str(info.value)
    assert "duplicate" in msg
    assert "x.csv:3" in msg


def test_alias_clash_is_reported():
    """A second row (other id) claiming the alias `H100` of h100-sxm-80gb is an error naming
    the alias."""
    header, row = _gpus_header_and_row()
    other = {**row, "id": "other-gpu", "name": "Other GPU", "aliases": "H100"}
    with pytest.raises(CatalogError) as info:
        parse_gpus(_gpus_csv(header, row, other), "x.csv")
    msg = str(info.value)
    assert "H100" in msg
    assert "x.csv" in msg


# ---------------------------------------------------------------------------------------------
# Hugging Face config.json
# ---------------------------------------------------------------------------------------------

LLAMA_3_8B_CONFIG = {
    "architectures": ["LlamaForCausalLM"],
    "model_type": "llama",
    "hidden_size": 4096,
    "num_hidden_layers": 32,
    "num_attention_heads": 32,
    "num_key_value_heads": 8,
    "intermediate_size": 14336,
    "vocab_size": 128256,
    "max_position_embeddings": 8192,
    "tie_word_embeddings": False,
}


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_hf_config_llama_3_8b(cat, tmp_path):
    """A Llama-3-8B-like config.json gives params within 0.5 % of the catalogue's llama-3-8b
    params_b (8.03 B). By hand: embeddings + untied head 2 x 128256 x 4096 = 1.051 B; per layer
    attention q,o 2 x 4096^2 + k,v 2 x 4096 x 1024 = 41.9 M and SwiGLU MLP 3 x 4096 x 14336 =
    176.2 M, x 32 layers = 6.98 B; total 8.03 B. 8 KV heads for 32 query heads is GQA."""
    path = _write(tmp_path / "config.json", json.dumps(LLAMA_3_8B_CONFIG, indent=2))
    m = cat.model(str(path))
    assert isinstance(m, Model)
    reference = cat.model("llama-3-8b").params_b
    assert reference == pytest.approx(8.03)
    assert m.params_b == pytest.approx(reference, rel=0.005)
    assert m.active_params_b == pytest.approx(m.params_b)
    assert m.attention == "gqa"
    assert (m.n_layers, m.n_heads, m.n_kv_heads, m.head_dim) == (32, 32, 8, 128)
    assert not m.is_moe


def test_hf_config_mixtral_active_params(cat, tmp_path):
    """A Mixtral-8x7B-like config (8 local experts, top-2) gives active params within 1 % of the
    catalogue's mixtral-8x7b active_params_b (12.88 B) and total within 1 % of its params_b (46.7 B).
    By hand: experts 3 x 4096 x 14336 = 176.2 M each; active = 2 x 176.2 M x 32 layers = 11.27 B
    + attention 32 x 41.9 M = 1.34 B + embeddings 2 x 32000 x 4096 = 0.26 B -> 12.88 B."""
    cfg = {**LLAMA_3_8B_CONFIG, "model_type": "mixtral", "vocab_size": 32000,
           "max_position_embeddings": 32768, "num_local_experts": 8, "num_experts_per_tok": 2}
    path = _write(tmp_path / "mixtral" / "config.json", json.dumps(cfg, indent=2))
    m = cat.model(str(path))
    ref = cat.model("mixtral-8x7b")
    assert m.is_moe
    assert (m.n_experts, m.n_experts_active) == (8, 2)
    assert m.active_params_b == pytest.approx(ref.active_params_b, rel=0.01)
    assert m.params_b == pytest.approx(ref.params_b, rel=0.01)


def test_hf_config_malformed_json_is_located(cat, tmp_path):
    """A config.json missing the comma between two keys on line 3 raises InputError whose message
    has the file path and `:3:` (line 3, then the column)."""
    text = '{\n  "hidden_size": 4096,\n  "num_hidden_layers": 32 "num_attention_heads": 32,\n  "vocab_size": 32000\n}\n'
    path = _write(tmp_path / "config.json", text)
    with pytest.raises(InputError) as info:
        cat.model(str(path))
    msg = str(info.value)
    assert str(path) in msg
    assert f"{path}:3:" in msg


def test_hf_config_non_integer_field_is_located(cat, tmp_path):
    """`"num_hidden_layers": "eighty"` on line 3 raises InputError naming the key and its line."""
    text = '{\n  "hidden_size": 8192,\n  "num_hidden_layers": "eighty",\n  "num_attention_heads": 64,\n  "vocab_size": 32000\n}\n'
    path = _write(tmp_path / "config.json", text)
    with pytest.raises(InputError) as info:
        cat.model(str(path))
    msg = str(info.value)
    assert "num_hidden_layers" in msg
    assert f"{path}:3:" in msg
    assert "eighty" in msg


def test_hf_config_missing_hidden_size(cat, tmp_path):
    """A config without hidden_size (or its alternatives n_embd, d_model) raises InputError
    mentioning hidden_size."""
    cfg = {k: v for k, v in LLAMA_3_8B_CONFIG.items() if k != "hidden_size"}
    path = _write(tmp_path / "config.json", json.dumps(cfg, indent=2))
    with pytest.raises(InputError) as info:
        cat.model(str(path))
    assert "hidden_size" in str(info.value)



def test_non_finite_catalogue_numbers_are_rejected():
    """`nan` and `inf` parse as floats but are not figures: a row carrying one is a located error."""
    import pathlib

    from planner.catalog.gpus import parse_gpus
    from planner.errors import CatalogError

    text = (pathlib.Path(__file__).resolve().parent.parent / "catalog" / "gpus.csv").read_text(encoding="utf-8")
    header, first = text.splitlines()[:2]
    cols = header.split(",")
    import csv
    import io

    row = next(csv.DictReader(io.StringIO(header + "\n" + first + "\n")))
    row["mem_bw_gb_per_s"] = "nan"
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=cols, lineterminator="\n")
    w.writeheader()
    w.writerow(row)
    with pytest.raises(CatalogError, match="x.csv:2: mem_bw_gb_per_s: not a finite number"):
        parse_gpus(buf.getvalue(), "x.csv")
