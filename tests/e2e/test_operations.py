"""Operating surface, end to end: ``/metrics`` of ``web`` and ``worker`` added up across
their processes, logs that name deliveries but never a person or a key, and a person
forgotten by the worker process, their later events dropped."""

from __future__ import annotations

import json

import httpx
from prometheus_client.parser import text_string_to_metric_families

from ..support import API_KEY, free_port, wait_for
from .stack import running_stack

EMAIL = "known.person@example.org"
PHONE = "+79161234567"
EVENTS = 60


def track(seq: int) -> dict:
    return {
        "id": f"ops-{seq}",
        "type": "event",
        "timestamp": "2026-11-23T10:00:00Z",
        "user": {"uid": f"ops-u{seq}", "email": EMAIL, "phone": PHONE},
        "name": "purchase",
        "payload": {"seq": seq},
    }


def samples(text: str) -> dict[tuple, float]:
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def total(found: dict[tuple, float], name: str, **labels: str) -> float:
    wanted = set(labels.items())
    return sum(
        value for (key, pairs), value in found.items() if key == name and wanted <= set(pairs)
    )


def forget_the_person(stack) -> tuple[dict, dict]:
    """Forget them through the worker, as a user would; then post one more event of
    theirs. Returns the done request, and the later event's answer."""
    body = {"user": {"email": EMAIL}, "suppress": True}
    request_id = stack.http.post("/v1/users/forget", json=body).json()["id"]

    def done() -> dict | None:
        request = stack.http.get(f"/v1/users/forget/{request_id}").json()
        return request if request["state"] == "done" else None

    request = wait_for(done, timeout_s=30)
    later = stack.http.post("/v1/events", json=track(EVENTS))
    assert later.status_code == 202
    return request, later.json()


def test_metrics_add_up_across_processes_and_logs_mask_people_and_keys(tmp_path):
    metrics_port = free_port()
    with running_stack(
        tmp_path, METRICS_PORT=str(metrics_port), LOG_FORMAT="json", LOG_LEVEL="debug"
    ) as stack:
        stack.sandbox.fault("crm.events", status=503, ratio=0.3)
        for start in range(0, EVENTS, 5):
            stack.post([track(seq) for seq in range(start, start + 5)])
        wait_for(lambda: len(stack.sandbox.accepted("crm.events")) >= EVENTS, timeout_s=60)

        def worker_metrics():
            try:
                found = samples(httpx.get(f"http://127.0.0.1:{metrics_port}/metrics").text)
            except httpx.HTTPError:
                return None
            delivered = total(found, "hookrelay_deliveries_total", outcome="delivered")
            return found if delivered >= EVENTS else None

        worker = wait_for(worker_metrics, timeout_s=30)
        done, later = forget_the_person(stack)
        web = samples(stack.http.get("/metrics").text)
        logs = stack.web.log() + "".join(w.log() for w in stack.workers)

    assert total(web, "hookrelay_events_total", type="event", outcome="accepted") == EVENTS
    assert done["erased"]["messages"] == 0, "every event was delivered before"
    assert later["accepted"] == 0 and [d["id"] for d in later["dropped"]] == [f"ops-{EVENTS}"]
    assert total(web, "hookrelay_events_total", type="event", outcome="dropped") == 1
    assert total(web, "hookrelay_queue_depth", queue="crm") == 0
    assert total(worker, "hookrelay_deliveries_total", platform="crm", outcome="delivered") == (
        EVENTS
    )
    retried = total(worker, "hookrelay_deliveries_total", outcome="retried")
    assert retried > 0
    assert total(worker, "hookrelay_retries_total", platform="crm", error="ServerError") == retried
    assert total(worker, "hookrelay_platform_requests_total", platform="crm", status="503") == (
        retried
    )
    assert total(worker, "hookrelay_delivery_latency_seconds_count", platform="crm") == EVENTS
    assert total(worker, "hookrelay_rate_limit_wait_seconds_count", platform="crm") == (
        EVENTS + retried
    )

    for secret in (EMAIL, PHONE, PHONE[1:], API_KEY):
        assert secret not in logs
    # Every line is one JSON object, Dramatiq's main and fork processes' included.
    entries = [json.loads(line) for line in logs.splitlines() if line.strip()]
    loggers = {entry["logger"] for entry in entries}
    assert {"dramatiq.MainProcess", "dramatiq.ForkProcess(0)", "gunicorn.error"} <= loggers
    outcomes = [entry for entry in entries if entry.get("outcome")]
    delivered = [
        entry
        for entry in outcomes
        if entry["outcome"] == "delivered" and entry["actor"] == "crm_post_event"
    ]
    assert len(delivered) == EVENTS
    assert {entry["event_id"] for entry in delivered} == {f"ops-{seq}" for seq in range(EVENTS)}
    assert all(entry["platform"] == "crm" and entry["attempt"] >= 1 for entry in delivered)
    assert all(200 <= entry["status"] < 300 for entry in delivered), "the platform's answer"
    # A failed attempt is one line: ours, not also Dramatiq's.
    failures = [entry for entry in entries if entry["logger"].startswith("dramatiq.worker")]
    assert not [entry for entry in failures if "Failed to process" in entry["message"]]
    retried_lines = [entry for entry in outcomes if entry["outcome"] == "retried"]
    assert len(retried_lines) == retried
    assert all(entry["status"] == 503 for entry in retried_lines)
