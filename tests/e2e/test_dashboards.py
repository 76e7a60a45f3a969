"""The shipped alert rules and Grafana dashboard read metrics a live stack really
exposes: after traffic of every kind, each metric name they use is in ``web``'s or a
worker's ``/metrics`` with the labels they use; and each dashboard query is PromQL that
promtool accepts."""

from __future__ import annotations

import json
import re
import shutil
import subprocess

import httpx
import pytest
import yaml

from ..support import API_KEY, ROOT, free_port, wait_for
from .stack import running_stack
from .test_operations import samples, total
from .test_status_page import campaign_start

HOOK_USER, HOOK_PASSWORD = "platform", "hook-secret"
NAME = re.compile(r"\bhookrelay_[a-z_]+")
#: Label names used: in matchers ``{a="..."}`` and in ``by (...)`` / ``on (...)``.
MATCHER = re.compile(r"[{,]\s*([a-z_]+)\s*(?:=~|!~|!=|=)")
GROUPING = re.compile(r"\b(?:by|on|without)\s*\(([^)]*)\)")


def rule_exprs() -> list[str]:
    groups = yaml.safe_load((ROOT / "ops/prometheus/alerts.yml").read_text())["groups"]
    return [rule["expr"] for group in groups for rule in group["rules"]]


def dashboard_exprs() -> list[str]:
    dashboard = json.loads((ROOT / "ops/grafana/hookrelay.json").read_text())
    return [target["expr"] for panel in dashboard["panels"] for target in panel["targets"]]


def labels_used(expr: str) -> set[str]:
    grouped = {name.strip() for names in GROUPING.findall(expr) for name in names.split(",")}
    return (set(MATCHER.findall(expr)) | grouped) - {""}


def traffic(stack) -> None:
    """Events (one retried), a profile, a Segment message, a refused body, a hook, a
    campaign started (its statistics fetched) and an action the platform refuses."""
    stack.sandbox.fault("crm.events", status=503, count=1)
    stack.post(
        [
            {
                "id": f"dash-{n}",
                "type": "event",
                "timestamp": "2026-11-23T10:00:00Z",
                "user": {"uid": f"d{n}"},
                "name": "paid",
            }
            for n in range(3)
        ]
        + [campaign_start(77)]
    )
    segment = {"batch": [{"type": "track", "userId": "d9", "event": "Paid", "messageId": "s1"}]}
    assert stack.http.post("/v1/batch", json=segment, auth=(API_KEY, "")).status_code == 200
    assert stack.http.post("/v1/events", json={"events": [{}]}).status_code == 422
    hook = stack.http.post(
        "/v1/hooks/crm", params={"stage": "pre", "uid": "d1"}, auth=(HOOK_USER, HOOK_PASSWORD)
    )
    assert hook.status_code == 200
    assert stack.http.post("/v1/campaigns/crm/555/pause").status_code == 202


@pytest.fixture(scope="module")
def scraped(tmp_path_factory) -> dict[str, set[str]]:
    """Each metric name (samples' names, suffixes included) with the labels seen on it,
    across ``web`` and the worker, once the traffic's outcomes are all counted."""
    metrics_port = free_port()
    with running_stack(
        tmp_path_factory.mktemp("dashboards"),
        METRICS_PORT=str(metrics_port),
        FOLLOWUP_SCHEDULE="1",
        HOOKRELAY_HOOK_USER=HOOK_USER,
        HOOKRELAY_HOOK_PASSWORD=HOOK_PASSWORD,
    ) as stack:
        stack.wait_for_workers()
        traffic(stack)

        def worker_metrics():
            try:
                found = samples(httpx.get(f"http://127.0.0.1:{metrics_port}/metrics").text)
            except httpx.HTTPError:
                return None
            counted = [
                total(found, "hookrelay_deliveries_total", actor="fetch_stats"),
                total(found, "hookrelay_dead_lettered_total"),
                total(found, "hookrelay_retries_total"),
            ]
            return found if all(counted) else None

        worker = wait_for(worker_metrics, timeout_s=60)
        web = samples(stack.http.get("/metrics").text)
    found: dict[str, set[str]] = {}
    for name, pairs in [*web, *worker]:
        found.setdefault(name, set()).update(label for label, _ in pairs)
    return found


@pytest.mark.parametrize("source", ["alert rules", "dashboard"])
def test_every_metric_used_exists_with_the_labels_used(scraped, source):
    exprs = rule_exprs() if source == "alert rules" else dashboard_exprs()
    for expr in exprs:
        names = set(NAME.findall(expr))
        missing = {name for name in names if name not in scraped}
        assert not missing, f"{source}: {expr!r} uses {missing}, which /metrics lacks"
        seen = set().union(*(scraped[name] for name in names))
        assert labels_used(expr) <= seen, f"{source}: {expr!r}: labels {labels_used(expr) - seen}"


@pytest.mark.skipif(
    shutil.which("promtool") is None, reason="promtool not installed (apt-get install prometheus)"
)
def test_every_dashboard_query_is_valid_promql(tmp_path):
    """promtool checks PromQL in rule files: each query becomes a recording rule."""
    rules = [{"record": f"dashboard:query{n}", "expr": e} for n, e in enumerate(dashboard_exprs())]
    path = tmp_path / "dashboard_rules.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}))
    done = subprocess.run(
        ["promtool", "check", "rules", str(path)], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stdout + done.stderr
