"""Models: the `models.csv` row type, its parser and checks, and models read from a Hugging Face `config.json`."""

from __future__ import annotations

import dataclasses
import json
import math
import re
from dataclasses import dataclass
from pathlib import Path

from planner.catalog.tables import CsvRow, Table, build_index, read_csv, unique_ids
from planner.errors import CatalogError, InputError, Problem
from planner.names import normalise_name
from planner.spec.textfile import read_user_text


@dataclass(frozen=True)
class Model:
    """A transformer's architecture, as in its Hugging Face config.json."""

    id: str
    name: str
    aliases: tuple[str, ...]
    family: str
    params_b: float
    active_params_b: float
    n_layers: int
    hidden_size: int
    n_heads: int
    n_kv_heads: int
    head_dim: int
    intermediate_size: int
    vocab_size: int
    tied_embeddings: bool
    max_context: int
    attention: str
    kv_lora_rank: int | None = None
    qk_rope_head_dim: int | None = None
    v_head_dim: int | None = None
    n_experts: int = 0
    n_experts_active: int = 0
    n_shared_experts: int = 0
    moe_intermediate_size: int = 0
    n_dense_layers: int = 0
    confidence: str = ""
    source: str = ""
    as_of: str = ""
    notes: str = ""

    @property
    def is_moe(self) -> bool:
        return self.n_experts > 1

    @property
    def embedding_params(self) -> float:
        """Parameters in the input embedding and (if untied) the output head."""
        return self.vocab_size * self.hidden_size * (1 if self.tied_embeddings else 2)

    @property
    def expert_params_each(self) -> float:
        """Parameters of one routed expert in one layer (gate, up, down projections)."""
        return 3.0 * self.hidden_size * self.moe_intermediate_size if self.is_moe else 0.0

    @property
    def n_moe_layers(self) -> int:
        return self.n_layers - self.n_dense_layers if self.is_moe else 0


ATTENTION_KINDS = ("mha", "gqa", "mqa", "mla")


MODEL_COLUMNS = (
    "id", "name", "aliases", "family", "params_b", "active_params_b", "n_layers", "hidden_size",
    "n_heads", "n_kv_heads", "head_dim", "intermediate_size", "vocab_size", "tied_embeddings",
    "max_context", "attention", "kv_lora_rank", "qk_rope_head_dim", "v_head_dim", "n_experts",
    "n_experts_active", "n_shared_experts", "moe_intermediate_size", "n_dense_layers", "confidence",
    "source", "as_of", "notes",
)


def parse_models(text: str, path: str) -> Table[Model]:
    problems: list[Problem] = []
    rows: dict[str, Model] = {}
    aliases: dict[str, tuple[str, ...]] = {}
    ids = []
    for line, data in read_csv(text, path, MODEL_COLUMNS):
        r = CsvRow(path, line, data, problems)
        attention = r.choice("attention", ATTENTION_KINDS)
        mla = attention == "mla"
        model = Model(
            id=r.str("id"), name=r.str("name"), aliases=r.aliases(), family=r.str("family"),
            params_b=r.num("params_b") or 0.0, active_params_b=r.num("active_params_b") or 0.0,
            n_layers=r.int("n_layers"), hidden_size=r.int("hidden_size"), n_heads=r.int("n_heads"),
            n_kv_heads=r.int("n_kv_heads"), head_dim=r.int("head_dim"),
            intermediate_size=r.int("intermediate_size"), vocab_size=r.int("vocab_size"),
            tied_embeddings=r.bool("tied_embeddings"), max_context=r.int("max_context"),
            attention=attention,
            kv_lora_rank=r.int("kv_lora_rank", required=mla) or None,
            qk_rope_head_dim=r.int("qk_rope_head_dim", required=mla) or None,
            v_head_dim=r.int("v_head_dim", required=False) or None,
            n_experts=r.int("n_experts", required=False), n_experts_active=r.int("n_experts_active", required=False),
            n_shared_experts=r.int("n_shared_experts", required=False),
            moe_intermediate_size=r.int("moe_intermediate_size", required=False),
            n_dense_layers=r.int("n_dense_layers", required=False),
            confidence=r.str("confidence", required=False), source=r.str("source"), as_of=r.date("as_of"),
            notes=r.str("notes", required=False),
        )
        problems += validate_model(model, path, line)
        ids.append((line, model.id))
        rows[model.id] = model
        aliases[model.id] = model.aliases
    problems += unique_ids(path, ids)
    if problems:
        raise CatalogError(problems)
    return Table("model", rows, build_index("model", path, rows, aliases))


MODEL_BOUNDS = {
    "n_layers": 1_000, "hidden_size": 65_536, "n_heads": 1_024, "n_kv_heads": 1_024, "head_dim": 2_048,
    "intermediate_size": 1_048_576, "vocab_size": 4_194_304, "max_context": 100_000_000,
    "kv_lora_rank": 65_536, "qk_rope_head_dim": 2_048, "v_head_dim": 2_048, "n_experts": 4_096,
    "n_experts_active": 4_096, "n_shared_experts": 64, "moe_intermediate_size": 1_048_576, "n_dense_layers": 1_000,
}
"""Largest value of each architecture dimension, generous against every real model, so that a
mistyped config (10^15 layers, a vocabulary of 1e308) is an error, not a minutes-long count or an
overflow. The largest open models today: 126 layers (Llama-3.1-405B), hidden 16,384-18,432
(Llama-3.1-405B, Grok-1: 6,144 x 48 heads), 128 attention heads, intermediate 53,248, vocabulary
262,144 (Gemma 3), context 10 million (Llama 4 Scout), 384 routed experts (Kimi K2) with top-8,
MLA rank 512 with head dims <= 192. Each bound is 4x to 100x those."""

REQUIRED_DIMENSIONS = ("n_layers", "hidden_size", "n_heads", "n_kv_heads", "head_dim", "vocab_size", "max_context")
"""Dimensions every model has (>= 1); the others may be 0 (absent)."""


def dimension_problem(key: str, value: int) -> str | None:
    """Why `value` cannot be the architecture dimension `key` (a Model field), or None."""
    low = 1 if key in REQUIRED_DIMENSIONS or key == "intermediate_size" else 0
    high = MODEL_BOUNDS.get(key)
    if high is not None and not low <= value <= high:
        return f"must be an integer in [{low:,}, {high:,}] (got {value})"
    return None


def validate_model(m: Model, path: str | None, line: int | None,
                   where: dict[str, tuple[str, int | None, int | None]] | None = None) -> list[Problem]:
    """Cross-field checks of an architecture; returns the problems found.

    `where` maps a Model field to the key it was read from and that key's (line, col), for a model
    read from a config.json: each problem is then located at that key and named by it.
    """
    out = []
    where = where or {}

    def bad(key: str, msg: str) -> None:
        name, at_line, at_col = where.get(key, (key, line, None))
        out.append(Problem(msg, file=path, line=at_line, col=at_col, key=name))

    for key in MODEL_BOUNDS:
        why = dimension_problem(key, getattr(m, key) or 0)
        if why:
            bad(key, why)
    if out:
        return out  # the cross-field checks below would only repeat these
    if m.n_kv_heads > m.n_heads:
        bad("n_kv_heads", f"more KV heads ({m.n_kv_heads}) than attention heads ({m.n_heads})")
    elif m.n_heads % m.n_kv_heads and m.attention != "mla":
        bad("n_kv_heads", f"{m.n_heads} attention heads are not a multiple of {m.n_kv_heads} KV heads")
    if m.n_experts > 1 and not (0 < m.n_experts_active <= m.n_experts):
        bad("n_experts_active", f"must be in 1..{m.n_experts} (the number of experts) for a MoE model "
                                f"(got {m.n_experts_active})")
    if m.n_experts > 1 and m.moe_intermediate_size <= 0:
        bad("moe_intermediate_size", "must be > 0 for a MoE model")
    if m.n_dense_layers > m.n_layers:
        bad("n_dense_layers", f"more dense layers ({m.n_dense_layers}) than layers ({m.n_layers})")
    if not out and m.active_params_b > m.params_b * 1.0001:
        bad("active_params_b", f"active ({m.active_params_b}) exceeds total ({m.params_b})")
    return out


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
}
"""The config.json keys each Model field is read from, first present wins (Llama/Qwen/Mistral names
first, then GPT-2, ChatGLM, Falcon and DeepSeek spellings)."""


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
    tied = bool(cfg.get("tie_word_embeddings", False))
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
    )
    problems = validate_model(base, name, 1, where)  # dimensions and their relations, before counting
    if problems:
        raise InputError(problems)
    total, active = param_count(base)
    return dataclasses.replace(base, params_b=total / 1e9, active_params_b=active / 1e9)


def attention_params_per_layer(m: Model) -> float:
    """Parameters of one attention block.

    GQA/MHA: q and o are hidden x (heads x head_dim); k and v are hidden x (KV heads x head_dim).
    MLA (DeepSeek-V2/V3): q, compressed kv (hidden x (rank + rope)), kv up-projection
    (rank x heads x (nope + v)) and o (heads x v x hidden); q LoRA is ignored (<1 % of the total).
    """
    if m.attention == "mla" and m.kv_lora_rank:
        rope = m.qk_rope_head_dim or 0
        v = m.v_head_dim or m.head_dim
        nope = m.head_dim - rope
        return (
            m.hidden_size * m.n_heads * m.head_dim
            + m.hidden_size * (m.kv_lora_rank + rope)
            + m.kv_lora_rank * m.n_heads * (nope + v)
            + m.n_heads * v * m.hidden_size
        )
    q_dim = m.n_heads * m.head_dim
    kv_dim = m.n_kv_heads * m.head_dim
    return 2.0 * m.hidden_size * q_dim + 2.0 * m.hidden_size * kv_dim


def param_count(m: Model) -> tuple[float, float]:
    """(total, active) parameters from the architecture, for configs that give no count.

    Per layer: attention (above) + MLP. Dense SwiGLU MLP = 3 x hidden x intermediate. MoE layers
    hold `n_experts` routed experts of 3 x hidden x moe_intermediate each, plus shared experts;
    a token activates top-k routed and all shared experts. Embeddings: vocab x hidden, doubled when
    the output head is untied. Norms and biases are ignored (<0.1 %).
    """
    attn = attention_params_per_layer(m)
    dense_mlp = 3.0 * m.hidden_size * m.intermediate_size
    moe_layers = max(m.n_layers - m.n_dense_layers, 0) if m.is_moe else 0
    dense_layers = m.n_layers - moe_layers
    expert = m.expert_params_each
    total = active = m.embedding_params + m.n_layers * attn + dense_layers * dense_mlp
    total += moe_layers * expert * (m.n_experts + m.n_shared_experts)
    active += moe_layers * expert * (m.n_experts_active + m.n_shared_experts)
    return total, active
