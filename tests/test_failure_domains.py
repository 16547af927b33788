"""Single points of failure: online workloads whose replicas all share one host or one provider."""

from __future__ import annotations

import json
from types import SimpleNamespace

from planner.optimize.failure_domains import SinglePoint, single_points

A = "chat:llama@h100/fp8/tp1/b64"
B = "docs:llama@h100/fp8/tp1/b64"


def _plan(*placement: tuple[str, list[str]]) -> SimpleNamespace:
    return SimpleNamespace(placement=list(placement))


def test_one_host_is_a_single_point():
    """Two replicas of chat on one 8-GPU server: the host is the single point, with both replicas."""
    plan = _plan(("server:hgx-8/h100 #1", [A, A, B]), ("server:hgx-8/h100 #2", [B]))
    assert single_points(plan, {"chat", "docs"}) == [SinglePoint("chat", "host", "server:hgx-8/h100 #1", 2)]


def test_several_instances_of_one_provider_are_a_single_point():
    """Three rented instances, all lambda: the provider is the single point; a second provider for
    one replica, or bought servers (one site by construction), are none."""
    lam = [(f"instance:lambda/gpu_1x_h100/h100 #{i}", [A]) for i in (1, 2, 3)]
    assert single_points(_plan(*lam), {"chat"}) == [SinglePoint("chat", "provider", "lambda", 3)]
    mixed = _plan(*lam[:2], ("instance:aws/p5.48xlarge/h100 #1", [A]))
    assert single_points(mixed, {"chat"}) == []
    bought = _plan(("server:hgx-8/h100 #1", [A]), ("server:hgx-8/h100 #2", [A]))
    assert single_points(bought, {"chat"}) == []


def test_batch_jobs_are_not_reported():
    """docs is not online (a batch job): its replicas on one host are no single point."""
    assert single_points(_plan(("server:hgx-8/h100 #1", [B, B])), {"chat"}) == []


def test_plans_report_them_in_json_and_warnings(run_cli):
    """multi-model-fleet's buy plan spreads every online workload over its two OAM servers (no
    single point), but each server holds more than one replica of assistant-chat, so losing either
    takes more than the N+1 spare: JSON resilience lists those hosts and a warning names them. Batch
    jobs are never reported. seed000-70b rents its 12 GH200 instances (11 for the demand and the
    N+1 spare) from lambda alone."""
    code, out, err = run_cli(["solve", "problems/multi-model-fleet.yaml", "--format", "json", "--no-timings",
                              "--today", "2026-11-21"])
    assert code == 0, err
    record = json.loads(out)
    buy = next(p for p in record["plans"] if p["pricing"] == "buy")
    assert buy["single_points_of_failure"] == []
    chat = next(r for r in buy["resilience"] if r["workload"] == "assistant-chat")
    per_host = {h["host"]: sum(1 for c in h["replicas"] if c.startswith("assistant-chat:")) for h in buy["placement"]}
    assert chat["spare_replica"] and sum(per_host.values()) == sum(
        d["replicas"] for d in buy["deployments"] if d["workload"] == "assistant-chat")
    assert {h["host"]: h["replicas"] for h in chat["host_loss_short"]} == {k: v for k, v in per_host.items() if v > 1}
    assert any(w.startswith("assistant-chat (buy plan): losing host ") for w in record["warnings"])
    assert not any(r["workload"].startswith("nightly") for r in buy["resilience"])
    code, out, _ = run_cli(["solve", "problems/seed000-70b-service-40qps.yaml", "--format", "json", "--no-timings",
                            "--today", "2026-11-21"])
    (plan,) = json.loads(out)["plans"]
    assert plan["single_points_of_failure"] == [{"workload": "large-app-70b", "domain": "provider", "name": "lambda",
                                                 "replicas": 13}]  # 13 GH200 replicas at batch 69


def _line(cid: str, coverage: float, replicas: int, routes: dict[int, float]) -> SimpleNamespace:
    used = sum(routes.values()) / coverage / replicas
    return SimpleNamespace(candidate=SimpleNamespace(id=cid, coverage=coverage), replicas=replicas, routes=routes,
                           capacity_used=used)


def test_host_losses_name_hosts_that_take_more_than_the_spare():
    """chat, one bucket: 3 replicas of coverage 0.5 (1.5 for a demand of 1.0, so N+1 against one
    replica). Two on host #1, one on #2: losing #1 leaves 0.5 < 1.0 (short, 2 replicas lost);
    losing #2 leaves 1.0 (fine). Spread one per host, no host is short."""
    from planner.optimize.failure_domains import HostLoss, host_losses

    line = _line(A, 0.5, 3, {0: 1.0})
    packed = SimpleNamespace(deployments=[line], placement=[("h #1", [A, A]), ("h #2", [A])])
    assert host_losses(packed, {"chat"}, set()) == [HostLoss("chat", "h #1", 2)]
    spread = SimpleNamespace(deployments=[line], placement=[("h #1", [A]), ("h #2", [A]), ("h #3", [A])])
    assert host_losses(spread, {"chat"}, set()) == []
    # Several buckets: the deployment's own load 1.0 / 0.5 = 2 replicas; losing 2 of 3 leaves 1 < 2.
    assert host_losses(packed, {"chat"}, {"chat"}) == [HostLoss("chat", "h #1", 2)]
    assert host_losses(packed, set(), set()) == []
