"""The 2025-26 model rows of catalog/models.csv and the attention variants they need.

Sliding-window (and chunked local) attention layers keep at most `sliding_window` tokens of KV
cache, so a sequence's KV cache is no longer linear in its context. The figures below are derived
by hand from the configs cited in tests/data/hf_configs/README.md.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from planner import perf
from planner.catalog.hf_config import model_from_hf_config
from planner.catalog.models import MODEL_COLUMNS, parse_models
from planner.catalog.store import load_catalog
from planner.errors import CatalogError, InputError
from planner.perf.estimate import evaluate, max_batch, memory_breakdown, resolve_deployment

REPO = Path(__file__).resolve().parent.parent
CONFIGS = REPO / "tests" / "data" / "hf_configs"
CAT = load_catalog()

NEW_ROWS = {
    # catalogue id: (published total B, published active B, tolerance on the total, source of the published figure)
    "gpt-oss-20b": (21, 3.6, 0.01, "oumi-ai/oumi@36cfa19 configs/recipes/gpt_oss/README.md"),
    "gpt-oss-120b": (117, 5.1, 0.01, "oumi-ai/oumi@36cfa19 configs/recipes/gpt_oss/README.md"),
    "qwen3-14b": (14.8, 14.8, 0.01, "Qwen3 model card"),
    "qwen3-235b-a22b": (235, 22, 0.01, "the name: 235B total, A22B active"),
    "qwen3-coder-480b-a35b": (480, 35, 0.01, "the name"),
    "llama-4-scout-17b-16e": (109, 17, 0.02, "Llama 4 model card"),
    "llama-4-maverick-17b-128e": (400, 17, 0.01, "Llama 4 model card"),
    "deepseek-v3.1": (671, 37, 0.001, "DeepSeek-V3 model card (the row stores it)"),
    "kimi-k2": (1000, 32, 0.03, "Kimi K2 model card: 1T total, 32B activated"),
    "glm-4.5": (355, 32, 0.01, "zai-org/GLM-4.5@170f20b README.md"),
    "glm-4.5-air": (106, 12, 0.01, "zai-org/GLM-4.5@170f20b README.md"),
    "gemma-3-4b": (4, 4, 0.04, "the name (vision encoder included there, not here)"),
    "gemma-3-12b": (12, 12, 0.02, "the name"),
    "gemma-3-27b": (27, 27, 0.01, "the name"),
    "mistral-small-3.1-24b": (24, 24, 0.02, "the name (vision encoder included there, not here)"),
}

DIMENSIONS = (
    "n_layers", "hidden_size", "n_heads", "n_kv_heads", "head_dim", "intermediate_size", "vocab_size",
    "tied_embeddings", "max_context", "attention", "kv_lora_rank", "qk_rope_head_dim", "v_head_dim", "n_experts",
    "n_experts_active", "n_shared_experts", "moe_intermediate_size", "n_dense_layers", "sliding_window",
    "n_sliding_layers",
)


# ---------------------------------------------------------------------------------------------
# The rows and the config reader
# ---------------------------------------------------------------------------------------------


def test_every_new_row_has_a_trimmed_config_and_the_2026_date():
    """Each row added on 2026-12-05 has its config under tests/data/hf_configs/ and cites it."""
    assert sorted(p.name for p in CONFIGS.iterdir() if p.is_dir()) == sorted(NEW_ROWS)
    for model_id in NEW_ROWS:
        m = CAT.model(model_id)
        assert m.as_of == "2026-12-05" and m.source.startswith("https://huggingface.co/")


@pytest.mark.parametrize("model_id", sorted(NEW_ROWS))
def test_reader_reproduces_the_catalogue_row(model_id):
    """The trimmed config.json gives the row's dimensions, experts and window exactly, and its
    parameter count to the printed 2 decimals. MLA rows (DeepSeek-V3.1, Kimi K2) store the
    published count and the README formula's count with q LoRA respectively; the reader, which
    counts a full-rank query projection, is within 1.2 % of their totals (DeepSeek: 678.69 vs
    671, +1.1 %; Kimi: 1029.79 vs 1026.24, +0.3 %)."""
    row = CAT.model(model_id)
    read = model_from_hf_config(CONFIGS / model_id / "config.json")
    for key in DIMENSIONS:
        assert getattr(read, key) == getattr(row, key), key
    if row.attention == "mla":
        assert read.params_b == pytest.approx(row.params_b, rel=0.012)
    else:
        assert (round(read.params_b, 2), round(read.active_params_b, 2)) == (row.params_b, row.active_params_b)


@pytest.mark.parametrize("model_id", sorted(NEW_ROWS))
def test_param_count_within_tolerance_of_the_published_count(model_id):
    """Totals against the published counts (the tolerance per row is in NEW_ROWS; each row's
    notes state the difference and why: the formula leaves out biases, norms, MTP layers and
    vision encoders). Active counts are not compared: the formula counts the input embedding as
    active, which vendors do not (gpt-oss-20b: 4.18 vs 3.6)."""
    total, _active, tol, _source = NEW_ROWS[model_id]
    assert CAT.model(model_id).params_b == pytest.approx(total, rel=tol)


def test_gpt_oss_120b_by_hand():
    """gpt-oss-120b (config: 36 layers, hidden 2880, 64 heads x 64, 8 KV heads, 128 experts of
    width 2880 top-4, vocabulary 201,088, untied):
    embeddings 2 x 201,088 x 2,880 = 1,158,266,880;
    attention per layer 2 x 2,880 x 4,096 + 2 x 2,880 x 512 = 26,542,080, x 36 = 955,514,880;
    one expert 3 x 2,880 x 2,880 = 24,883,200; x 128 x 36 = 114,661,785,600 (x 4 x 36 = 3,583,180,800 active).
    Total 116,775,567,360 -> 116.78 B; active 5,696,962,560 -> 5.70 B."""
    m = CAT.model("gpt-oss-120b")
    total, active = perf.param_count(m)
    assert total == 116_775_567_360
    assert active == 5_696_962_560
    assert (m.params_b, m.active_params_b) == (116.78, 5.7)
    assert (m.sliding_window, m.n_sliding_layers, m.n_full_attention_layers) == (128, 18, 18)


def test_llama_4_maverick_layout_from_config():
    """Llama-4-Maverick: interleave_moe_layer_step 2 -> 48 // 2 = 24 MoE layers and 24 dense ones
    (intermediate_size_mlp 16384); experts and the one shared expert are intermediate_size 8192
    wide; attention_chunk_size 8192 on the RoPE layers: all but every 4th (no_rope_layer_interval
    default 4) -> 48 - 12 = 36 chunked layers."""
    m = model_from_hf_config(CONFIGS / "llama-4-maverick-17b-128e" / "config.json")
    assert (m.n_dense_layers, m.intermediate_size, m.moe_intermediate_size, m.n_shared_experts) == (24, 16384, 8192, 1)
    assert (m.sliding_window, m.n_sliding_layers) == (8192, 36)


def test_qwen3_window_ignored_when_use_sliding_window_is_false(tmp_path):
    """Qwen configs carry a `sliding_window` that Qwen's attention ignores unless
    `use_sliding_window` is true: no window is read. With it true, every layer slides."""
    cfg = json.loads((CONFIGS / "qwen3-14b" / "config.json").read_text(encoding="utf-8"))
    cfg["sliding_window"] = 4096
    (tmp_path / "config.json").write_text(json.dumps(cfg), encoding="utf-8")
    assert model_from_hf_config(tmp_path / "config.json").n_sliding_layers == 0
    cfg["use_sliding_window"] = True
    (tmp_path / "config.json").write_text(json.dumps(cfg), encoding="utf-8")
    m = model_from_hf_config(tmp_path / "config.json")
    assert (m.sliding_window, m.n_sliding_layers) == (4096, 40)


def test_reader_locates_a_layer_types_list_of_the_wrong_length(tmp_path):
    """gpt-oss with 3 layer_types for 24 layers: one problem at the layer_types key (line 2,
    column 3 of this file)."""
    text = '{\n  "layer_types": ["sliding_attention", "full_attention", "sliding_attention"],\n'
    cfg = json.loads((CONFIGS / "gpt-oss-20b" / "config.json").read_text(encoding="utf-8"))
    del cfg["layer_types"]
    text += json.dumps(cfg, indent=2)[2:]
    path = tmp_path / "config.json"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(InputError) as info:
        model_from_hf_config(path)
    assert str(info.value) == (f"{path}:2:3: layer_types: has 3 entries for 24 layers; "
                               "expected one entry per layer (num_hidden_layers)")


def test_reader_locates_a_non_integer_window(tmp_path):
    """A sliding_window of "1k" is reported at its key."""
    cfg = json.loads((CONFIGS / "gemma-3-4b" / "config.json").read_text(encoding="utf-8"))
    cfg["text_config"]["sliding_window"] = "1k"
    path = tmp_path / "config.json"
    path.write_text(json.dumps(cfg, indent=2), encoding="utf-8")
    with pytest.raises(InputError) as info:
        model_from_hf_config(path)
    line = next(i for i, t in enumerate(path.read_text().splitlines(), 1) if '"sliding_window":' in t)
    assert f"{path}:{line}:5: sliding_window: must be an integer in [1, 100,000,000] (got '1k')" in str(info.value)


# ---------------------------------------------------------------------------------------------
# The catalogue columns: located errors
# ---------------------------------------------------------------------------------------------


def _models_csv_with(**changes: str) -> str:
    header = ",".join(MODEL_COLUMNS)
    row = {c: "" for c in MODEL_COLUMNS}
    row.update(id="m", name="M", family="x", params_b="1", active_params_b="1", n_layers="4", hidden_size="64",
               n_heads="4", n_kv_heads="2", head_dim="16", intermediate_size="128", vocab_size="100",
               max_context="4096", attention="gqa", source="test", as_of="2026-12-05")
    row.update(changes)
    return header + "\n" + ",".join(row[c] for c in MODEL_COLUMNS) + "\n"


@pytest.mark.parametrize("changes, message", [
    ({"sliding_window": "128", "n_sliding_layers": "5"},
     "m.csv:2: n_sliding_layers: more sliding-window layers (5) than layers (4)"),
    ({"n_sliding_layers": "2"},
     "m.csv:2: sliding_window: must be > 0 when 2 layers use a sliding window (the window in tokens)"),
    ({"sliding_window": "128"},
     "m.csv:2: n_sliding_layers: must be > 0 when sliding_window is set (got a 128-token window on no layer); "
     "leave both empty for full attention everywhere"),
    ({"sliding_window": "1.5", "n_sliding_layers": "2"}, "m.csv:2: sliding_window: not an integer (got '1.5')"),
])
def test_window_columns_are_checked_with_located_errors(changes, message):
    """Each defect of the two new columns is one located problem naming the column."""
    with pytest.raises(CatalogError) as info:
        parse_models(_models_csv_with(**changes), "m.csv")
    assert message in str(info.value)


def test_window_columns_come_last_in_the_header():
    """Appended after `notes`, so rows added elsewhere merge by adding two empty cells."""
    assert MODEL_COLUMNS[-2:] == ("sliding_window", "n_sliding_layers")
    header = (REPO / "catalog" / "models.csv").read_text(encoding="utf-8").splitlines()[0]
    assert header == ",".join(MODEL_COLUMNS)


# ---------------------------------------------------------------------------------------------
# KV cache with sliding windows
# ---------------------------------------------------------------------------------------------


def test_gemma_3_27b_kv_below_and_above_the_window():
    """Gemma-3-27B (maxtext gemma3_27b_config): 62 layers, 16 KV heads x head_dim 128,
    sliding_window 1024, sliding_window_pattern 6 -> 62 // 6 = 10 global layers, 52 local.
    One token in one layer at FP16: 2 (K, V) x 16 x 128 x 2 B = 8,192 B; in all 62 layers 507,904 B.

    512 tokens (below the window): every layer holds all of them: 62 x 512 = 31,744 layer-tokens
    x 8,192 B = 260,046,848 B = 507,904 B x 512, as without a window.
    1,024 tokens (at the window): 62 x 1,024 x 8,192 = 520,093,696 B.
    8,192 tokens (above): 10 x 8,192 + 52 x 1,024 = 81,920 + 53,248 = 135,168 layer-tokens
    x 8,192 B = 1,107,296,256 B, against 62 x 8,192 x 8,192 = 4,160,749,568 B without the window.
    At TP 2 each GPU keeps 8 of the 16 KV heads: half, 553,648,128 B."""
    m = CAT.model("gemma-3-27b")
    assert (m.n_layers, m.n_kv_heads, m.head_dim, m.sliding_window, m.n_sliding_layers) == (62, 16, 128, 1024, 52)
    assert perf.kv_cache_bytes_per_token(m, 2) == 507_904
    assert perf.kv_cache_layer_tokens(m, 512) == 31_744
    assert perf.kv_cache_bytes_per_sequence(m, 2, 512) == 260_046_848 == 507_904 * 512
    assert perf.kv_cache_bytes_per_sequence(m, 2, 1024) == 520_093_696
    assert perf.kv_cache_layer_tokens(m, 8192) == 135_168
    assert perf.kv_cache_bytes_per_sequence(m, 2, 8192) == 1_107_296_256
    assert perf.kv_cache_bytes_per_sequence(m, 2, 8192, tp=2) == 553_648_128
    assert perf.kv_cache_bytes(m, 2, 8192, batch=3) == 3 * 1_107_296_256
    contexts = np.array([512.0, 1024.0, 8192.0])
    assert perf.kv_cache_bytes_per_sequence(m, 2, contexts).tolist() == [260_046_848, 520_093_696, 1_107_296_256]


def test_gpt_oss_120b_kv_per_sequence():
    """gpt-oss-120b: 36 layers, 8 KV heads x 64 at FP8 (1 B): 2 x 8 x 64 = 1,024 B per token per
    layer. 18 layers slide over 128 tokens. At 3,500 tokens: 18 x 3,500 + 18 x 128 = 65,304
    layer-tokens -> 66,871,296 B; without the window 36 x 3,500 x 1,024 = 129,024,000 B."""
    m = CAT.model("gpt-oss-120b")
    assert perf.kv_cache_bytes_per_sequence(m, 1, 3500) == 66_871_296
    assert perf.kv_cache_bytes_per_token(m, 1) * 3500 == 129_024_000


@pytest.mark.parametrize("model_id", ["llama-3.1-70b", "deepseek-v3", "qwen3-30b-a3b", "mistral-small-3.1-24b"])
def test_no_window_is_bit_identical_to_per_token_times_context(model_id):
    """Rows with no window keep the per-token formula exactly (so the goldens do not move):
    per sequence = per token per GPU x context; decode read = batch x context x per token."""
    m = CAT.model(model_id)
    per_token = perf.kv_cache_bytes_per_token_per_gpu(m, 2, 2)
    for context in (1, 777, 8192, 131_072):
        assert perf.kv_cache_bytes_per_sequence(m, 2, context, 2) == per_token * context
        assert perf.kv_cache_bytes_read_per_decode_step(m, 2, 3, context, 2) == 3 * context * per_token


def test_max_batch_counts_the_window():
    """Gemma-3-27B FP16 on one H100 at 8,192 tokens: the largest batch is floor(free bytes /
    1,107,296,256 B per sequence), not floor(free / 4,160,749,568 B) as per token x context
    would give: with the window about 3.8x as many sequences fit. Capacity 0.9 x 79.19 GiB (the
    H100's driver-reported memory) = 71.27 GiB; less 50.3 GiB of weights, the activation peak and
    non-torch memory leaves about 20.50e9 B (19.1 GiB): 18 sequences instead of 4."""
    d = resolve_deployment(CAT, "gemma-3-27b", "h100", "fp16")
    base = memory_breakdown(d, 0, 0)
    free = base.capacity - base.weights - base.activations - base.overhead
    assert max_batch(d, 8192) == int(free // 1_107_296_256) == 18
    assert int(free // 4_160_749_568) == 4
    assert memory_breakdown(d, 2, 8192).kv_cache == 2 * 1_107_296_256


def test_decode_reads_and_attention_flops_stop_at_the_window():
    """Past the window only the global layers grow: gpt-oss-120b's decode KV read per sequence
    grows by 18 layers x 1,024 B = 18,432 B per extra token of context (FP8), not 36,864 B, and
    its attention FLOPs per token by 4 x 64 heads x 64 x 18 layers = 294,912 per token of
    context. Below the window both are the whole-model figures."""
    m = CAT.model("gpt-oss-120b")
    read = perf.kv_cache_bytes_read_per_decode_step
    assert read(m, 1, 1, 10_001) - read(m, 1, 1, 10_000) == 18_432
    assert read(m, 1, 1, 101) - read(m, 1, 1, 100) == 36_864
    flops = perf.attention_flops_per_token
    assert flops(m, 10_001) - flops(m, 10_000) == 294_912
    assert flops(m, 100) == 4 * 36 * 64 * 64 * 100


def test_prefill_attention_sums_min_position_window():
    """Gemma-3-27B prefill of 4,096 tokens: the causal attention pairs are 10 global layers x
    4,096^2 / 2 = 83,886,080 plus 52 local layers x (1,024 x 4,096 - 1,024^2 / 2) = 52 x
    3,670,016 = 190,840,832, i.e. 274,726,912 layer-pairs x (4 x 32 heads x 128) = 16,384 FLOPs
    = 4,501,125,726,208 FLOPs, on top of 2 x active params x 4,096."""
    m = CAT.model("gemma-3-27b")
    attention = perf.prefill_flops(m, 4096) - perf.linear_flops(m, 4096)
    assert attention == pytest.approx(4_501_125_726_208, rel=1e-12)
    lengths = np.array([512.0, 4096.0])
    assert perf.prefill_flops(m, lengths)[1] == pytest.approx(perf.prefill_flops(m, 4096), rel=1e-12)
    assert perf.prefill_flops(m, 512) - perf.linear_flops(m, 512) == pytest.approx(
        perf.attention_flops_per_token(m, 512) * 512 / 2, rel=1e-12)


# ---------------------------------------------------------------------------------------------
# Estimates and the shipped problem
# ---------------------------------------------------------------------------------------------

ESTIMATES = {
    # model: (gpu, precision, tp) on which one 2,000 + 500-token request fits
    "gpt-oss-20b": ("h100", "fp16", 1), "gpt-oss-120b": ("h200", "fp8", 1), "qwen3-14b": ("h100", "fp16", 1),
    "qwen3-235b-a22b": ("h200", "fp8", 4), "qwen3-coder-480b-a35b": ("h200", "fp8", 8),
    "llama-4-scout-17b-16e": ("h100", "fp8", 2), "llama-4-maverick-17b-128e": ("h200", "fp8", 8),
    "deepseek-v3.1": ("h200", "fp8", 8), "kimi-k2": ("b200", "fp8", 8), "glm-4.5": ("h200", "fp8", 4),
    "glm-4.5-air": ("h100", "fp8", 2), "gemma-3-4b": ("l4", "fp16", 1), "gemma-3-12b": ("l40s", "fp16", 1),
    "gemma-3-27b": ("h100", "fp16", 1), "mistral-small-3.1-24b": ("h100", "fp16", 1),
}


@pytest.mark.parametrize("model_id", sorted(ESTIMATES))
def test_estimate_runs_on_each_new_model(model_id):
    """`planner estimate` for each new row on a GPU set that holds its weights: it fits, with a
    positive TTFT, TPOT and throughput (the weights alone: gpt-oss-120b FP8 109.8 GiB on a
    141 GB H200; Kimi K2 FP8 ~956 GiB over 8 B200)."""
    gpu, precision, tp = ESTIMATES[model_id]
    d = resolve_deployment(CAT, model_id, gpu, precision, tp=tp)
    est = evaluate(d, CAT.efficiency_for(d.gpu), 2000, 500)
    assert est.fits and est.max_batch >= 1
    assert est.ttft_s > 0 and est.tpot_s > 0 and est.output_tokens_per_s > 0


def test_gpt_oss_qwen3_problem_solves(run_cli):
    """problems/gpt-oss-qwen3-chat.yaml resolves and `planner solve` gives an optimal plan that
    serves both workloads (the whole plan is compared with its golden in test_solve.py)."""
    code, out, _ = run_cli(["solve", "problems/gpt-oss-qwen3-chat.yaml", "--format", "json", "--no-timings",
                            "--today", "2026-11-21"])
    assert code == 0
    result = json.loads(out)
    assert result["status"] == "optimal"
    models = {d["model"] for plan in result["plans"] for d in plan["deployments"]}
    assert models == {"gpt-oss-120b", "qwen3-30b-a3b"}


def test_simulation_reserves_the_capped_cache():
    """The serving simulation admits a request when its KV fits the replica's token budget. With
    sliding windows a request reserves ceil(layer-tokens / layers): Gemma-3-27B at 8,192 tokens
    ceil(135,168 / 62) = 2,181 whole-model tokens, at 512 tokens all 512 (below the window);
    without a window the context itself (Llama-3.1-8B: 8,192)."""
    from planner.serving.simulate import kv_reserved_tokens

    gemma = resolve_deployment(CAT, "gemma-3-27b", "h100", "fp16")
    assert kv_reserved_tokens(gemma, np.array([512, 8192])).tolist() == [512, 2181]
    llama = resolve_deployment(CAT, "llama-3.1-8b", "h100", "fp16")
    assert kv_reserved_tokens(llama, np.array([512, 8192])).tolist() == [512, 8192]


def test_gemma_2_27b_window_on_every_other_layer():
    """Gemma-2-27B: 46 layers, 16 KV heads x 128, FP16: 2 x 16 x 128 x 2 B = 8,192 B per token per
    layer; 23 layers slide over 4,096 tokens (config sliding_window 4096, even layers). At 8,192
    tokens: 23 x 8,192 + 23 x 4,096 = 282,624 layer-tokens x 8,192 B = 2,315,255,808 B (without the
    window 46 x 8,192 x 8,192 = 3,087,007,744 B). At 2,000 tokens, within the window: 46 x 2,000 x
    8,192 = 753,664,000 B either way."""
    m = CAT.model("gemma-2-27b")
    assert (m.sliding_window, m.n_sliding_layers) == (4096, 23)
    assert perf.kv_cache_bytes_per_sequence(m, 2, 8192) == 2_315_255_808
    assert perf.kv_cache_bytes_per_token(m, 2) * 8192 == 3_087_007_744
    assert perf.kv_cache_bytes_per_sequence(m, 2, 2000) == 753_664_000
