"""Models read from a Hugging Face `config.json`: dimensions, mixture-of-experts layout and attention
windows, every problem located at the key it is about.

Architectures read (model_type): Llama 1-3 (`llama`), Llama 4 (`llama4`, `text_config` nested:
`intermediate_size_mlp` is the dense width, `intermediate_size` the expert width, one shared expert,
`interleave_moe_layer_step`, chunked local attention of `attention_chunk_size` tokens on the RoPE
layers of `no_rope_layers`), Mistral/Mixtral (`sliding_window` on every layer when set), Qwen 2/2.5/3
and Qwen3-MoE (a `sliding_window` is ignored unless `use_sliding_window`), Gemma 2 (even layers slide)
and Gemma 3 (`text_config`, every `sliding_window_pattern`-th layer global, or `layer_types`),
gpt-oss (`layer_types`, `num_local_experts`, experts as wide as `intermediate_size`), DeepSeek-V2/V3
and Kimi K2 (MLA, `first_k_dense_replace`), GLM-4.5 (`glm4_moe`), and GPT-2/ChatGLM/Falcon spellings
of the basic dimensions.
"""

from __future__ import annotations

import dataclasses
import json
import math
import re
from pathlib import Path

from planner.catalog.models import Model, dimension_problem, param_count, validate_model
from planner.errors import InputError, Problem
from planner.names import normalise_name
from planner.spec.textfile import read_user_text

MAX_JSON_DEPTH = 64
"""Deepest nesting of objects and arrays a config.json may have (Hugging Face configs nest 3 or 4
levels: text_config, rope_scaling, quantization_config); deeper is reported where it passes, before
Python's json module could exhaust the stack."""

_JSON_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"|[{}\[\]:,]')

_HF_KEYS: dict[str, tuple[str, ...]] = {
    "hidden_size": ("hidden_size", "n_embd", "d_model"),
    "n_layers": ("num_hidden_layers", "n_layer", "num_layers"),
    "n_heads": ("num_attention_heads", "n_head"),
    "n_kv_heads": ("num_key_value_heads", "multi_query_group_num"),
    "intermediate_size": ("intermediate_size", "ffn_hidden_size", "n_inner"),
    "vocab_size": ("vocab_size", "padded_vocab_size"),
    "max_context": ("max_position_embeddings", "seq_length", "n_positions"),
    "head_dim": ("head_dim",),
    "kv_lora_rank": ("kv_lora_rank",),
    "qk_rope_head_dim": ("qk_rope_head_dim",),
    "qk_nope_head_dim": ("qk_nope_head_dim",),
    "v_head_dim": ("v_head_dim",),
    "n_experts": ("num_local_experts", "n_routed_experts", "num_experts"),
    "n_experts_active": ("num_experts_per_tok", "num_experts_per_token", "moe_topk"),
    "n_shared_experts": ("n_shared_experts", "num_shared_experts"),
    "moe_intermediate_size": ("moe_intermediate_size",),
    "n_dense_layers": ("first_k_dense_replace",),
    "dense_intermediate_size": ("intermediate_size_mlp",),
}
"""The config.json keys each Model field is read from, first present wins (Llama/Qwen/Mistral names
first, then GPT-2, ChatGLM, Falcon and DeepSeek spellings; Llama 4's dense width)."""

SLIDING_LAYER_TYPES = ("sliding_attention", "chunked_attention")
"""`layer_types` entries whose KV cache is bounded by the window (gpt-oss, Gemma 3, newer configs)."""

LLAMA4_NOPE_INTERVAL_DEFAULT = 4
"""Llama4TextConfig's `no_rope_layer_interval` default: every 4th layer is a global NoPE layer."""


def _json_key_positions(text: str, name: str) -> dict[tuple[str, ...], int]:
    """Offset of every object key at depth 1 or 2, by its path (`("hidden_size",)`,
    `("text_config", "vocab_size")`); the last of a repeated key wins, as in `json.loads`.

    Raises:
        InputError: nesting deeper than MAX_JSON_DEPTH, at the bracket that passes it.
    """
    positions: dict[tuple[str, ...], int] = {}
    stack: list[list] = []  # per open container: [is_object, key being read, expecting a key]
    for m in _JSON_TOKEN.finditer(text):
        tok = m.group()
        if tok in "{[":
            if len(stack) >= MAX_JSON_DEPTH:
                line, col = _line_col(text, m.start())
                raise InputError(Problem(f"nested deeper than {MAX_JSON_DEPTH} levels", file=name, line=line,
                                         col=col, expected="a model config (3 or 4 levels)"))
            stack.append([tok == "{", None, tok == "{"])
        elif tok in "}]":
            if stack:
                stack.pop()
        elif tok == ",":
            if stack and stack[-1][0]:
                stack[-1][2] = True
        elif tok == ":":
            if stack:
                stack[-1][2] = False
        elif stack and stack[-1][0] and stack[-1][2]:  # a string where a key is expected
            try:
                key = json.loads(tok)
            except ValueError:
                continue
            stack[-1][1] = key
            if len(stack) <= 2 and all(level[0] for level in stack):
                path = tuple(level[1] for level in stack)
                if None not in path:
                    positions[path] = m.start()
    return positions


def _line_col(text: str, offset: int) -> tuple[int, int]:
    """1-based (line, column) of character `offset` in `text`."""
    return text.count("\n", 0, offset) + 1, offset - (text.rfind("\n", 0, offset) + 1) + 1


def model_from_hf_config(path: Path) -> Model:
    """Build a Model from a Hugging Face `config.json` (Llama/Qwen/Mistral/Mixtral/Gemma/DeepSeek styles).

    Parameter counts are computed from the dimensions (see `param_count` below). Every problem is
    located at the key it is about (`config.json:5:3: num_key_value_heads: ...`), or at line 1,
    column 1 for a missing key; each dimension must lie within MODEL_BOUNDS.

    Raises:
        InputError: every problem of the file.
    """
    name = str(path)
    text = read_user_text(path)
    positions = _json_key_positions(text, name)
    try:
        cfg = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(Problem(f"not valid JSON: {exc.msg}", file=name, line=exc.lineno, col=exc.colno)) from None
    except ValueError as exc:  # e.g. an integer of more than 4,300 digits (Python's int conversion limit)
        long_number = re.search(r"\d{4301,}", text)
        line, col = _line_col(text, long_number.start()) if long_number else (1, 1)
        raise InputError(Problem(f"not valid JSON: {exc}", file=name, line=line, col=col)) from None
    if not isinstance(cfg, dict):
        raise InputError(Problem("top level must be a JSON object", file=name, line=1, col=1))
    prefix: tuple[str, ...] = ()
    outer_type = str(cfg.get("model_type") or "")
    if isinstance(cfg.get("text_config"), dict):  # multimodal wrappers keep the LM config inside
        cfg, prefix = {**cfg["text_config"]}, ("text_config",)
    problems: list[Problem] = []
    where: dict[str, tuple[str, int | None, int | None]] = {}
    opened = _line_col(text, positions[prefix]) if prefix in positions else (1, 1)

    def locate(key: str) -> tuple[int, int]:
        offset = positions.get((*prefix, key))
        return _line_col(text, offset) if offset is not None else opened

    def get_int(field: str, default: int | None = None, required: bool = True) -> int:
        keys = _HF_KEYS[field]
        for k in keys:
            if k in cfg and cfg[k] is not None:
                v = cfg[k]
                line, col = locate(k)
                where[field] = (k, line, col)
                if (isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v)
                        or float(v) != int(v)):
                    problems.append(Problem(f"must be an integer (got {v!r})", file=name, line=line, col=col, key=k))
                    return 0
                why = dimension_problem(field, int(v))
                if why:
                    problems.append(Problem(why.replace(f"(got {int(v)})", f"(got {v!r})"), file=name, line=line,
                                            col=col, key=k))
                    return 0
                return int(v)
        if default is not None or not required:
            return default or 0
        line, col = opened
        problems.append(Problem("missing", file=name, line=line, col=col, key=keys[0],
                                expected="an integer field " + " or ".join(keys)))
        return 0

    hidden = get_int("hidden_size")
    n_layers = get_int("n_layers")
    n_heads = get_int("n_heads")
    n_kv = get_int("n_kv_heads", default=n_heads or 1)
    inter = get_int("intermediate_size", default=4 * hidden if hidden else 1)
    vocab = get_int("vocab_size")
    max_ctx = get_int("max_context", default=4096)
    head_dim = get_int("head_dim", default=max(hidden // n_heads, 1) if n_heads else 1)
    kv_lora = get_int("kv_lora_rank", required=False)
    rope_dim = get_int("qk_rope_head_dim", required=False)
    nope_dim = get_int("qk_nope_head_dim", required=False)
    v_dim = get_int("v_head_dim", required=False)
    n_experts = get_int("n_experts", required=False)
    top_k = get_int("n_experts_active", required=False)
    n_shared = get_int("n_shared_experts", required=False)
    moe_inter = get_int("moe_intermediate_size", required=False) or (inter if n_experts > 1 else 0)
    n_dense = get_int("n_dense_layers", required=False)
    model_type = str(cfg.get("model_type") or outer_type)
    if model_type.startswith("llama4") and n_experts > 1:
        # Llama 4: experts (and the one shared expert) are `intermediate_size` wide, dense layers
        # `intermediate_size_mlp`; every `interleave_moe_layer_step`-th layer is MoE.
        moe_inter, n_shared = inter, max(n_shared, 1)
        inter = get_int("dense_intermediate_size", default=inter)
        n_dense = _llama4_dense_layers(cfg, n_layers)
    elif isinstance(cfg.get("mlp_only_layers"), list) and n_experts > 1:  # Qwen-MoE dense exceptions
        n_dense = len(cfg["mlp_only_layers"])
    window, n_sliding = _attention_windows(cfg, model_type, n_layers, name, locate, where, problems)
    tied = bool(cfg.get("tie_word_embeddings", "gemma" in f"{model_type} {outer_type}"))  # Gemma ties by default
    if problems:
        raise InputError(problems)
    if n_experts > 1 and "n_experts_active" not in where:
        where["n_experts_active"] = (_HF_KEYS["n_experts_active"][0], *where["n_experts"][1:])
    attention = "mla" if kv_lora else ("mha" if n_kv == n_heads else ("mqa" if n_kv == 1 else "gqa"))
    if attention == "mla":
        head_dim = (nope_dim + rope_dim) or head_dim
    stem = path.parent.name if path.name == "config.json" else path.stem
    model_id = normalise_name(str(cfg.get("_name_or_path") or stem)).replace("/", "-") or "custom"
    base = Model(
        id=model_id, name=stem, aliases=(), family=str(cfg.get("model_type", "custom")), params_b=1.0,
        active_params_b=1.0, n_layers=n_layers, hidden_size=hidden, n_heads=n_heads, n_kv_heads=n_kv,
        head_dim=head_dim, intermediate_size=inter, vocab_size=vocab, tied_embeddings=tied,
        max_context=max_ctx, attention=attention, kv_lora_rank=kv_lora or None,
        qk_rope_head_dim=rope_dim or None, v_head_dim=v_dim or None, n_experts=n_experts if n_experts > 1 else 0,
        n_experts_active=top_k if n_experts > 1 else 0, n_shared_experts=n_shared,
        moe_intermediate_size=moe_inter if n_experts > 1 else 0, n_dense_layers=n_dense,
        confidence="user", source=name, as_of="", notes="read from a Hugging Face config.json",
        sliding_window=window, n_sliding_layers=n_sliding,
    )
    problems = validate_model(base, name, 1, where)  # dimensions and their relations, before counting
    if problems:
        raise InputError(problems)
    total, active = param_count(base)
    return dataclasses.replace(base, params_b=total / 1e9, active_params_b=active / 1e9)


def _llama4_dense_layers(cfg: dict, n_layers: int) -> int:
    """Llama 4 layers with a dense MLP: those not in `moe_layers`, else all but every
    `interleave_moe_layer_step`-th (Scout: step 1, no dense layer; Maverick: step 2, 24 of 48)."""
    moe_layers = cfg.get("moe_layers")
    if isinstance(moe_layers, list) and moe_layers:
        return max(n_layers - len(moe_layers), 0)
    step = cfg.get("interleave_moe_layer_step")
    step = step if isinstance(step, int) and not isinstance(step, bool) and step >= 1 else 1
    return n_layers - n_layers // step


def _attention_windows(cfg: dict, model_type: str, n_layers: int, name: str, locate, where: dict,
                       problems: list[Problem]) -> tuple[int, int]:
    """(window tokens, layers using it) of a config; (0, 0) for full attention everywhere.

    Llama 4: chunked local attention of `attention_chunk_size` tokens on its RoPE layers (1 in
    `no_rope_layers`; else all but every `no_rope_layer_interval`-th). Others: `sliding_window`
    (ignored when `use_sliding_window` is false, as in Qwen configs) on the `layer_types` entries
    that slide, or all but every `sliding_window_pattern`-th layer (Gemma 3), or the even layers
    (Gemma 2), or every layer (Mistral-7B v0.1, Phi-3). Problems are appended, located at the key.
    """
    llama4 = model_type.startswith("llama4")
    window_key = "attention_chunk_size" if llama4 else "sliding_window"
    window = cfg.get(window_key)
    if window is None or window is False or (not llama4 and cfg.get("use_sliding_window") is False):
        return 0, 0
    line, col = locate(window_key)
    if isinstance(window, bool) or not isinstance(window, int) or dimension_problem("sliding_window", window):
        problems.append(Problem(f"must be an integer in [1, 100,000,000] (got {window!r})", file=name, line=line,
                                col=col, key=window_key, expected="the attention window in tokens, or null"))
        return 0, 0
    if window == 0:
        return 0, 0
    where["sliding_window"] = (window_key, line, col)
    count_key, per_layer = window_key, None
    if llama4:
        per_layer = cfg.get("no_rope_layers")
        if isinstance(per_layer, list) and per_layer:
            count_key, n_sliding = "no_rope_layers", sum(1 for v in per_layer if v)
        else:
            per_layer, interval = None, cfg.get("no_rope_layer_interval") or LLAMA4_NOPE_INTERVAL_DEFAULT
            n_sliding = n_layers - n_layers // max(int(interval), 1)
    elif isinstance(cfg.get("layer_types"), list) and cfg["layer_types"]:
        per_layer = cfg["layer_types"]
        count_key, n_sliding = "layer_types", sum(1 for t in per_layer if t in SLIDING_LAYER_TYPES)
    elif cfg.get("sliding_window_pattern"):
        pattern = cfg["sliding_window_pattern"]
        count_key = "sliding_window_pattern"
        if isinstance(pattern, bool) or not isinstance(pattern, int) or pattern < 1:
            line, col = locate(count_key)
            problems.append(Problem(f"must be an integer >= 1 (got {pattern!r})", file=name, line=line, col=col,
                                    key=count_key, expected="every how many layers one is global"))
            return 0, 0
        n_sliding = n_layers - n_layers // pattern
    elif model_type == "gemma2":
        n_sliding = (n_layers + 1) // 2
    else:
        n_sliding = n_layers
    line, col = locate(count_key)
    if per_layer is not None and len(per_layer) != n_layers:
        problems.append(Problem(f"has {len(per_layer)} entries for {n_layers} layers", file=name, line=line,
                                col=col, key=count_key, expected="one entry per layer (num_hidden_layers)"))
        return 0, 0
    where["n_sliding_layers"] = (count_key, line, col)
    return (window, n_sliding) if n_sliding else (0, 0)
