"""Models: the `models.csv` row type, its parser and checks, and models read from a Hugging Face `config.json`."""

from __future__ import annotations

import dataclasses
import json
import math
import re
from dataclasses import dataclass
from pathlib import Path

from planner.catalog.tables import Table, _build_index, _read_csv, _Row, _unique_ids
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
    for line, data in _read_csv(text, path, MODEL_COLUMNS):
        r = _Row(path, line, data, problems)
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
    problems += _unique_ids(path, ids)
    if problems:
        raise CatalogError(problems)
    return Table("model", rows, _build_index("model", path, rows, aliases))


def validate_model(m: Model, path: str | None, line: int | None) -> list[Problem]:
    """Cross-field checks of an architecture; returns the problems found."""
    out = []

    def bad(key: str, msg: str) -> None:
        out.append(Problem(msg, file=path, line=line, key=key))

    for key in ("n_layers", "hidden_size", "n_heads", "n_kv_heads", "head_dim", "vocab_size", "max_context"):
        if getattr(m, key) <= 0:
            bad(key, f"must be > 0 (got {getattr(m, key)})")
    if m.n_kv_heads > m.n_heads > 0:
        bad("n_kv_heads", f"more KV heads ({m.n_kv_heads}) than attention heads ({m.n_heads})")
    if m.n_kv_heads > 0 and m.n_heads % m.n_kv_heads and m.attention != "mla":
        bad("n_kv_heads", f"{m.n_heads} heads are not a multiple of {m.n_kv_heads} KV heads")
    if m.active_params_b > m.params_b * 1.0001:
        bad("active_params_b", f"active ({m.active_params_b}) exceeds total ({m.params_b})")
    if m.n_experts > 1 and not (0 < m.n_experts_active <= m.n_experts):
        bad("n_experts_active", f"must be in 1..{m.n_experts} for a MoE model (got {m.n_experts_active})")
    if m.n_experts > 1 and m.moe_intermediate_size <= 0:
        bad("moe_intermediate_size", "must be > 0 for a MoE model")
    return out


def model_from_hf_config(path: Path) -> Model:
    """Build a Model from a Hugging Face `config.json` (Llama/Qwen/Mistral/Mixtral/Gemma/DeepSeek styles).

    Parameter counts are computed from the dimensions (see `param_count` below).
    """

    name = str(path)
    text = read_user_text(path)
    try:
        cfg = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(Problem(f"not valid JSON: {exc.msg}", file=name, line=exc.lineno, col=exc.colno)) from None
    if not isinstance(cfg, dict):
        raise InputError(Problem("top level must be a JSON object", file=name, line=1, col=1))
    if isinstance(cfg.get("text_config"), dict):  # multimodal wrappers keep the LM config inside
        cfg = {**cfg["text_config"]}
    problems: list[Problem] = []

    def line_of(key: str) -> int | None:
        m = re.search(r'"' + re.escape(key) + r'"\s*:', text)
        return text.count("\n", 0, m.start()) + 1 if m else None

    def get_int(key: str, *alts: str, default: int | None = None, required: bool = True) -> int:
        for k in (key, *alts):
            if k in cfg and cfg[k] is not None:
                v = cfg[k]
                if (isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v)
                        or v < 0 or float(v) != int(v)):
                    problems.append(Problem(f"must be a non-negative integer (got {v!r})", file=name, line=line_of(k), key=k))
                    return 0
                return int(v)
        if default is not None or not required:
            return default or 0
        problems.append(Problem("missing", file=name, key=key, expected="an integer field " + " or ".join((key, *alts))))
        return 0

    hidden = get_int("hidden_size", "n_embd", "d_model")
    n_layers = get_int("num_hidden_layers", "n_layer", "num_layers")
    n_heads = get_int("num_attention_heads", "n_head")
    n_kv = get_int("num_key_value_heads", "multi_query_group_num", default=n_heads or 1)
    inter = get_int("intermediate_size", "ffn_hidden_size", "n_inner", default=4 * hidden if hidden else 1)
    vocab = get_int("vocab_size", "padded_vocab_size")
    max_ctx = get_int("max_position_embeddings", "seq_length", "n_positions", default=4096)
    head_dim = get_int("head_dim", default=(hidden // n_heads) if n_heads else 1)
    kv_lora = get_int("kv_lora_rank", required=False)
    rope_dim = get_int("qk_rope_head_dim", required=False)
    nope_dim = get_int("qk_nope_head_dim", required=False)
    v_dim = get_int("v_head_dim", required=False)
    n_experts = get_int("num_local_experts", "n_routed_experts", "num_experts", required=False)
    top_k = get_int("num_experts_per_tok", "num_experts_per_token", "moe_topk", required=False)
    n_shared = get_int("n_shared_experts", "num_shared_experts", required=False)
    moe_inter = get_int("moe_intermediate_size", required=False) or (inter if n_experts > 1 else 0)
    n_dense = get_int("first_k_dense_replace", required=False)
    tied = bool(cfg.get("tie_word_embeddings", False))
    if problems:
        raise InputError(problems)
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
    total, active = param_count(base)
    model = dataclasses.replace(base, params_b=total / 1e9, active_params_b=active / 1e9)
    problems = validate_model(model, name, None)
    if problems:
        raise InputError(problems)
    return model

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
    total = active = m.embedding_params
    for layer in range(m.n_layers):
        total += attn
        active += attn
        if m.is_moe and layer >= m.n_dense_layers:
            expert = m.expert_params_each
            total += expert * (m.n_experts + m.n_shared_experts)
            active += expert * (m.n_experts_active + m.n_shared_experts)
        else:
            total += dense_mlp
            active += dense_mlp
    return total, active
