"""Physical placement: every TP group on GPUs that are in one host; PCIe cards count only in the
server they are put into (`planner.optimize.placement`, the MILP's pools, and `verify`).

The first cases run the placement on hand-built hosts; then the reproducer of the pooling bug
(owned GPUs counted toward a TP group on a bought PCIe server) through the whole chain, and a
check that `verify` rejects the plan the old formulation returned.
"""

from __future__ import annotations

from dataclasses import replace

import pytest
from milp_factories import cand, card, host

from planner.optimize.chain import milp_input, solve_loaded
from planner.optimize.placement import place
from planner.optimize.plan import DeploymentLine
from planner.optimize.verify import VerificationError, verify_plan
from planner.spec.loader import load_spec_text


def _line(gpu: str, tp: int, replicas: int, id: str) -> DeploymentLine:
    return DeploymentLine(cand("w", gpu, tp, 0.1, id=id), replicas, {0: 1.0}, 1.0)


def test_groups_go_to_hosts_with_their_gpus_before_cards():
    """A 2-GPU owned server and a 4-slot PCIe server with 2 cards; three TP1 replicas and one TP2.

    Largest first: the TP2 group takes the owned server (2 GPUs); the three TP1 groups find it full
    and go onto cards, but only two cards were bought, so one TP1 replica fits nowhere.
    """
    hosts = [(host("own2", "g", 2, kind="owned", max_count=1), 1),
             (host("srv4", "g", 4, kind="server", gpus_included=False), 1)]
    placed = place([_line("g", 2, 1, "big"), _line("g", 1, 3, "small")], hosts, [(card("g", 100), 2)])
    assert placed.hosts == [("srv4 #1", ["small", "small"]), ("own2 #1", ["big"])]
    assert placed.cards == {"srv4 #1": 2}
    assert placed.unplaced == ["small"]
    assert placed.spare_cards == {}


def test_spare_cards_fill_free_slots_and_overflow_is_reported():
    """One TP1 replica, a 4-slot PCIe server and 6 cards: 1 card under the group, 3 spare cards in
    the free slots, 2 cards that fit no slot."""
    placed = place([_line("g", 1, 1, "c")], [(host("srv4", "g", 4, kind="server", gpus_included=False), 1)],
                   [(card("g", 100), 6)])
    assert placed.cards == {"srv4 #1": 4}
    assert placed.spare_cards == {"g": 2}


def test_a_tp2_group_never_spans_two_hosts():
    """Two rented 1-GPU instances hold no TP2 group, even with 2 GPUs between them."""
    placed = place([_line("g", 2, 1, "c")], [(host("inst1", "g", 1), 2)])
    assert placed.unplaced == ["c"]


def test_many_replicas_are_placed_in_bulk():
    """200,000 TP1 replicas on 25,000 8-GPU instances: one pass per host, not per replica, so
    this is quick; every host ends up full (8 x 25,000 = 200,000)."""
    placed = place([_line("g", 1, 200_000, "c")], [(host("inst8", "g", 8), 25_000)])
    assert placed.unplaced == []
    assert all(len(content) == 8 for _, content in placed.hosts)


REPRODUCER = """
name: owned-tp2-split
objective: buy
gpus: {allow: [rtx-4090-24gb], datacenter_only: false}   # GeForce cards bought into colocation
owned: [{gpu: rtx-4090-24gb, count: 9}]
planning: {tp_degrees: [2]}
workloads:
  - name: chat
    model: qwen2.5-14b
    precisions: [fp16]
    traffic: {peak_qps: 9, input_tokens: 1000, output_tokens: 200}
    slo: {ttft_ms: 3000, tpot_ms: 100}
"""


@pytest.fixture(scope="module")
def reproducer():
    out = solve_loaded(load_spec_text(REPRODUCER, "owned-tp2-split.yaml"))
    inp, _ = milp_input(out.resolved, out.candidates, out.book, "buy")
    return out, inp


def test_reproducer_plan_is_physically_valid(reproducer):
    """Nine owned RTX 4090s are two 4-GPU servers and one 1-GPU server (powers of two). Every
    replica is TP2, so the 1-GPU server can hold none: the plan leaves it off (it is not billed),
    and each TP2 group on the bought PCIe server sits on two cards bought into that server."""
    out, _ = reproducer
    (plan,) = out.plans
    counts = {h.id: n for h, n in plan.hosts}
    assert "owned:rtx-4090-24gb/1" not in counts
    assert counts["owned:rtx-4090-24gb/4"] == 2
    on_cards = sum(len(content) * 2 for label, content in plan.placement if label.startswith("server:"))
    assert on_cards > 0
    assert sum(plan.placement_cards.values()) == sum(n for _, n in plan.cards)
    for label, content in plan.placement:
        if label in plan.placement_cards:
            assert 2 * len(content) <= plan.placement_cards[label]


def test_verify_rejects_the_pooled_plan(reproducer):
    """The old formulation's plan: the owned 1-GPU server on, one card fewer. The TP2 group on the
    PCIe server then has one card under it; verify's own placement finds it fits nowhere."""
    out, inp = reproducer
    plan = out.plans[0]
    owned1 = next(h for h in inp.hosts if h.id == "owned:rtx-4090-24gb/1")
    (card_cost, n_cards), = plan.cards
    pooled = replace(plan, hosts=[*plan.hosts, (owned1, 1)], cards=[(card_cost, n_cards - 1)])
    with pytest.raises(VerificationError) as exc:
        verify_plan(out.resolved, inp, pooled, out.book, out.candidates.mixes)
    assert any("do not fit on the GPUs physically in the plan's hosts" in v for v in exc.value.violations)


HYBRID = """
name: hybrid-pcie-tp2
objective: hybrid
site: office                # towers, no rack or top-of-rack switch to amortise
office: {circuits: 5}          # 4 leave no buy plan within the power cap with the refitted factors
gpus: {allow: [rtx-4090-24gb, l40s-48gb]}
planning: {tp_degrees: [1, 2], mixing: free}   # the plan this test was built on: no spare, free mix
workloads:
  - name: chat14
    model: qwen2.5-14b
    precisions: [fp16]
    redundancy: none
    traffic: {peak_qps: 6, input_tokens: 1000, output_tokens: 200, profile: [0.3, 0.3, 0.3, 0.3, 0.3, 0.3, 0.5, 0.8,
              1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0.8, 0.6, 0.5, 0.4, 0.3, 0.3]}
    slo: {ttft_ms: 3000, tpot_ms: 100}
  - name: chat7
    model: qwen2.5-7b
    precisions: [fp16]
    redundancy: none
    traffic: {peak_qps: 4, input_tokens: 1000, output_tokens: 200, profile: [0.3, 0.3, 0.3, 0.3, 0.3, 0.3, 0.5, 0.8,
              1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0.8, 0.6, 0.5, 0.4, 0.3, 0.3]}
    slo: {ttft_ms: 3000, tpot_ms: 100}
"""


def test_hybrid_rented_pods_and_bought_cards_stay_apart():
    """Qwen2.5-14B in FP16 (about 28 GiB of weights) needs TP2 on a 24 GB RTX 4090; RunPod rents
    4090s one per pod. In the hybrid plan every TP2 group on the 4090 is in the bought PCIe server
    on its own cards, and the rented 1-GPU pods hold TP1 groups only (verify passed in the chain)."""
    out = solve_loaded(load_spec_text(HYBRID, "hybrid-pcie-tp2.yaml"))
    hybrid = next(p for p in out.plans if p.pricing == "hybrid")
    tp = {d.candidate.id: d.candidate.tp for d in hybrid.deployments}
    slots = {f"{h.id} #{k + 1}": h.slots for h, n in hybrid.hosts for k in range(n)}
    assert any(label in hybrid.placement_cards for label, _ in hybrid.placement)
    for label, content in hybrid.placement:
        gpus_there = hybrid.placement_cards.get(label, slots[label])
        assert sum(tp[c] for c in content) <= gpus_there
        if label.startswith("instance:runpod/pod/rtx-4090"):
            assert all(tp[c] == 1 for c in content)


def test_replicas_of_a_workload_are_spread_over_hosts():
    """Two 8-GPU instances, 3 TP1 replicas of workload a and 1 of b. The smaller pool goes first: b
    on #1; then a is water-filled to at most 2 per host (3 over 2 hosts), ties to the earlier host:
    #1 gets 2, #2 gets 1. First fit would have put all of a on #1, where one lost host takes all 3."""
    a = DeploymentLine(cand("a", "g", 1, 0.1, id="a:x"), 3, {0: 1.0}, 1.0)
    b = DeploymentLine(cand("b", "g", 1, 0.1, id="b:y"), 1, {0: 1.0}, 1.0)
    placed = place([a, b], [(host("inst8", "g", 8), 2)])
    assert placed.hosts == [("inst8 #1", ["b:y", "a:x", "a:x"]), ("inst8 #2", ["a:x"])]
    assert placed.unplaced == []
