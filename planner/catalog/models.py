"""Models: the `models.csv` row type, its parser and checks, and the parameter count from the dimensions.

A Hugging Face `config.json` is read by `planner.catalog.hf_config`."""

from __future__ import annotations

from dataclasses import dataclass

from planner.catalog.tables import CsvRow, Table, build_index, read_csv, unique_ids
from planner.errors import CatalogError, Problem


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
    sliding_window: int = 0
    """Tokens a sliding-window (or chunked local) attention layer keeps in its KV cache; 0 = none."""
    n_sliding_layers: int = 0
    """Layers that attend within `sliding_window` only; the other n_layers - n_sliding_layers attend
    to the whole context."""

    @property
    def n_full_attention_layers(self) -> int:
        """Layers whose KV cache grows with the whole context."""
        return self.n_layers - self.n_sliding_layers

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
    "source", "as_of", "notes", "sliding_window", "n_sliding_layers",
)
"""The header of models.csv. The attention-variant columns come last so that rows added elsewhere
merge by appending two empty cells."""


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
            sliding_window=r.int("sliding_window", required=False),
            n_sliding_layers=r.int("n_sliding_layers", required=False),
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
    "sliding_window": 100_000_000, "n_sliding_layers": 1_000,
}
"""Largest value of each architecture dimension, generous against every real model, so that a
mistyped config (10^15 layers, a vocabulary of 1e308) is an error, not a minutes-long count or an
overflow. The largest open models today: 126 layers (Llama-3.1-405B), hidden 16,384-18,432
(Llama-3.1-405B, Grok-1: 6,144 x 48 heads), 128 attention heads, intermediate 53,248, vocabulary
262,144 (Gemma 3), context 10 million (Llama 4 Scout), 384 routed experts (Kimi K2) with top-8,
MLA rank 512 with head dims <= 192, attention windows of 128 (gpt-oss) to 8,192 tokens (Llama 4's
chunked attention). Each bound is 4x to 100x those."""

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
    if m.n_sliding_layers > m.n_layers:
        bad("n_sliding_layers", f"more sliding-window layers ({m.n_sliding_layers}) than layers ({m.n_layers})")
    elif m.n_sliding_layers and not m.sliding_window:
        bad("sliding_window", f"must be > 0 when {m.n_sliding_layers} layers use a sliding window "
                              "(the window in tokens)")
    elif m.sliding_window and not m.n_sliding_layers:
        bad("n_sliding_layers", f"must be > 0 when sliding_window is set (got a {m.sliding_window}-token "
                                "window on no layer); leave both empty for full attention everywhere")
    if not out and m.active_params_b > m.params_b * 1.0001:
        bad("active_params_b", f"active ({m.active_params_b}) exceeds total ({m.params_b})")
    return out


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
