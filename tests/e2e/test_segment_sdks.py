"""Segment's and RudderStack's own Python SDKs, and Segment's Node.js SDK (from the npm
registry, where Node.js is installed), pointed at a live ``web``: what they send through
their background consumers arrives at the platform once, mapped; a wrong write key is
given up on at once; a Redis pause is retried through, nothing lost or doubled."""

from __future__ import annotations

import logging
import shutil
import signal
import subprocess
import time
from collections import Counter

import pytest
import rudderstack.analytics
import segment.analytics

from ..support import wait_for
from .stack import running_stack

WRITE_KEY = "sdk-write-key"
#: Longer than the receiver's 5 s Redis timeout, so that it answers 503 meanwhile.
PAUSE_S = 8
SDKS = {"segment": segment.analytics.Client, "rudder": rudderstack.analytics.Client}


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    with running_stack(
        tmp_path_factory.mktemp("sdks"),
        workers=2,
        HOOKRELAY_WRITE_KEYS=WRITE_KEY,
        CRM_RATE_LIMIT="1000",
        PROFILE_FLUSH_MS="200",
    ) as running:
        yield running


def client(stack, sdk: str, *, gzip: bool, key: str = WRITE_KEY, errors: list | None = None):
    """The SDK's client with its background consumer, as an application makes it."""
    return SDKS[sdk](
        key,
        host=str(stack.http.base_url),
        gzip=gzip,
        on_error=(lambda error, batch: errors.append((error, len(batch))))
        if errors is not None
        else None,
        upload_interval=0.1,
    )


def at_platform(stack, tag: str) -> tuple[dict, Counter]:
    """The tagged users' profiles, and how often each of their events arrived."""
    profiles = {
        p["uid"]: p for p in stack.sandbox.profiles() if str(p.get("uid", "")).startswith(tag)
    }
    events = Counter(
        r["body"]["payload"]["n"]
        for r in stack.sandbox.accepted("crm.events")
        if r["body"]["payload"].get("tag") == tag
    )
    return profiles, events


@pytest.mark.parametrize(
    ("sdk", "gzip", "users"),
    [
        ("segment", False, 1000),
        ("rudder", True, 1000),
        ("segment", True, 200),
        ("rudder", False, 200),
    ],
)
def test_identify_and_track_through_the_sdk_arrive_once_each(stack, sdk, gzip, users):
    tag = f"{sdk}-{'gz' if gzip else 'plain'}-"
    errors: list = []
    analytics = client(stack, sdk, gzip=gzip, errors=errors)
    for n in range(users):
        traits = {"email": f"{tag}{n}@example.com", "plan": "pro", "address": {"city": "Riga"}}
        analytics.identify(f"{tag}{n}", traits)
        analytics.track(f"{tag}{n}", "Order Completed", {"n": n, "tag": tag, "total": 12.5})
    analytics.flush()
    analytics.join()
    assert errors == []

    def arrived():
        profiles, events = at_platform(stack, tag)
        return len(profiles) == users and len(events) == users and (profiles, events)

    profiles, events = wait_for(arrived, timeout_s=90, interval_s=0.5)
    assert set(events.values()) == {1}, "each event once"
    one = profiles[f"{tag}7"]
    assert one["email"] == f"{tag}7@example.com"
    assert one["fields"] == {"plan": "pro", "address_city": "Riga"}


def test_a_wrong_write_key_is_given_up_on_at_once(stack, caplog):
    errors: list = []
    analytics = client(stack, "segment", gzip=False, key="not-the-key", errors=errors)
    analytics.track("someone", "Order Completed", {"n": 0, "tag": "wrong-key"})
    started = time.monotonic()
    with caplog.at_level(logging.ERROR, logger="segment"):
        analytics.flush()
        analytics.join()
    assert len(errors) == 1 and errors[0][0].status == 401, errors
    assert time.monotonic() - started < 5, "no retries with backoff"
    assert "Non-retryable error 401" in caplog.text
    assert at_platform(stack, "wrong-key")[1] == Counter()


def test_a_redis_pause_is_retried_through_and_nothing_doubles(stack, caplog):
    tag = "paused-"
    caplog.set_level(logging.INFO, logger="backoff")
    analytics = client(stack, "rudder", gzip=True)
    stack.redis.process.send_signal(signal.SIGSTOP)
    try:
        for n in range(300):
            analytics.track(f"{tag}{n}", "Order Completed", {"n": n, "tag": tag})
        time.sleep(PAUSE_S)
    finally:
        stack.redis.process.send_signal(signal.SIGCONT)
    analytics.flush()
    analytics.join()
    assert "503" in caplog.text, "the SDK was answered 503 and backed off"
    events = wait_for(
        lambda: (found := at_platform(stack, tag)[1]) and len(found) == 300 and found,
        timeout_s=90,
        interval_s=0.5,
    )
    assert set(events.values()) == {1}, "each event once, though some requests were retried"


NODE_SCRIPT = """
const { Analytics } = require("@segment/analytics-node");
const [host, writeKey, tag, users] = process.argv.slice(2);
const analytics = new Analytics({ writeKey, host, flushAt: 100, flushInterval: 200 });
analytics.on("error", (error) => { console.error(String(error)); process.exitCode = 1; });
for (let n = 0; n < Number(users); n++) {
  const traits = { email: `${tag}${n}@example.com`, plan: "pro", address: { city: "Riga" } };
  analytics.identify({ userId: `${tag}${n}`, traits });
  analytics.track({ userId: `${tag}${n}`, event: "Order Completed", properties: { n, tag } });
}
analytics.closeAndFlush({ timeout: 60000 });
"""


@pytest.fixture(scope="module")
def node_sdk(tmp_path_factory):
    """A folder with @segment/analytics-node installed from the npm registry, or skip."""
    if shutil.which("node") is None or shutil.which("npm") is None:
        pytest.skip("Node.js and npm are not installed: Segment's Node.js SDK is not tested")
    folder = tmp_path_factory.mktemp("node-sdk")
    installed = subprocess.run(
        ["npm", "install", "--silent", "--no-audit", "--no-fund", "@segment/analytics-node@2"],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=180,
    )
    if installed.returncode != 0:
        pytest.skip(f"npm could not install @segment/analytics-node: {installed.stderr[-300:]}")
    (folder / "send.js").write_text(NODE_SCRIPT)
    return folder


def test_segments_node_sdk_arrives_once_each(stack, node_sdk):
    tag, users = "node-", 1000
    sent = subprocess.run(
        ["node", "send.js", str(stack.http.base_url), WRITE_KEY, tag, str(users)],
        cwd=node_sdk,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert sent.returncode == 0, sent.stderr

    def arrived():
        profiles, events = at_platform(stack, tag)
        return len(profiles) == users and len(events) == users and (profiles, events)

    profiles, events = wait_for(arrived, timeout_s=90, interval_s=0.5)
    assert set(events.values()) == {1}
    assert profiles[f"{tag}7"]["fields"] == {"plan": "pro", "address_city": "Riga"}
