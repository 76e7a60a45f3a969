"""``hookrelay send`` against the real receiver served over HTTP."""

from __future__ import annotations

import base64
import json
import re

import pytest
import redis
from click.testing import CliRunner
from flask import Flask, request

from webhook.app import create_app
from workers.ops.cli import main
from workers.ops.receiver_client import Item, ReceiverClient, Tally, batches

from ..conftest import make_settings
from ..support import API_KEY, serving


def event(number: int, **extra) -> dict:
    return {
        "id": f"evt-{number}",
        "type": "event",
        "timestamp": "2026-11-23T10:00:00Z",
        "user": {"uid": str(number)},
        "name": "login_user",
        **extra,
    }


#: The receiver's signing secret, which hookrelay send signs with.
SECRET = "whsec_" + base64.b64encode(b"k" * 32).decode()


@pytest.fixture
def receiver(redis_url):
    settings = make_settings(redis_url, HOOKRELAY_SIGNING_SECRET=SECRET)
    with serving(create_app(settings)) as url:
        yield url


def send(receiver: str, redis_url: str, *args: str, **env: str):
    environment = {
        "REDIS_URL": redis_url,
        "HOOKRELAY_API_KEYS": API_KEY,
        "HOOKRELAY_SIGNING_SECRET": SECRET,
        **env,
    }
    return CliRunner().invoke(main, ["send", "--url", receiver, *args], env=environment)


def queued(redis_url: str) -> int:
    client = redis.Redis.from_url(redis_url)
    return sum(client.llen(key) for key in client.keys("dramatiq:*") if b"." not in key)


def test_a_file_of_json_lines_is_sent_in_signed_batches_once(receiver, redis_url, tmp_path):
    path = tmp_path / "events.jsonl"
    path.write_text("\n".join(json.dumps(event(n)) for n in range(1203)) + "\n")

    first = send(receiver, redis_url, str(path), "--batch", "500")
    assert first.exit_code == 0, first.output
    assert first.output.rstrip().endswith("1203 event(s): 1203 accepted, 0 duplicate(s), 0 refused")
    assert queued(redis_url) == 1203

    again = send(receiver, redis_url, str(path))
    assert "1203 event(s): 0 accepted, 1203 duplicate(s), 0 refused" in again.output
    assert queued(redis_url) == 1203


def test_a_refused_event_is_reported_by_its_line_and_the_others_land(receiver, redis_url, tmp_path):
    lines = [json.dumps(event(n)) for n in range(10)]
    lines[7] = json.dumps(dict(event(7), timestamp="yesterday"))
    lines[3] = "{not json"
    (tmp_path / "events.jsonl").write_text("\n".join(lines) + "\n")

    result = send(receiver, redis_url, str(tmp_path / "events.jsonl"), "--batch", "5")
    assert result.exit_code == 1
    assert "10 event(s): 8 accepted, 0 duplicate(s), 2 refused" in result.output
    assert "line 4: not JSON" in result.output
    assert "line 8 (evt-7): timestamp: Not an ISO 8601 time" in result.output
    assert queued(redis_url) == 8


def test_items_of_a_json_array_are_reported_by_the_line_they_start_on(
    receiver, redis_url, tmp_path
):
    events = [event(n) for n in range(4)]
    events[2]["user"] = {"email": "not-an-email"}
    text = json.dumps(events, indent=2)
    (tmp_path / "events.json").write_text(text)
    starts = [number for number, line in enumerate(text.splitlines(), start=1) if line == "  {"]
    third = starts[2]

    result = send(receiver, redis_url, str(tmp_path / "events.json"))
    assert result.exit_code == 1
    assert f"line {third} (evt-2): user.email: Not a valid email address." in result.output
    assert "4 event(s): 3 accepted" in result.output


def test_without_a_file_it_sends_a_sample_and_says_its_ids(receiver, redis_url):
    result = send(receiver, redis_url)
    assert result.exit_code == 0, result.output
    sent, totals = result.output.splitlines()
    assert re.fullmatch(r"sent: sample-\w+-profile, sample-\w+-event", sent)
    assert totals == "2 event(s): 2 accepted, 0 duplicate(s), 0 refused"


def test_a_wrong_key_or_no_receiver_is_one_clear_line(receiver, redis_url, tmp_path):
    wrong = send(receiver, redis_url, "--key", "not-a-key")
    assert wrong.exit_code == 1
    assert "Error: the receiver refused the key" in wrong.output
    (tmp_path / "bad.json").write_text("{not json")
    unreadable = send(receiver, redis_url, str(tmp_path / "bad.json"))
    assert unreadable.exit_code == 1
    assert "is neither JSON nor JSON lines" in unreadable.output


def test_busy_answers_are_retried_with_the_same_body():
    bodies: list[bytes] = []
    app = Flask(__name__)

    @app.post("/v1/events")
    def busy_twice():
        bodies.append(request.get_data())
        if len(bodies) <= 2:
            return {"error": "unavailable"}, 503
        return {"accepted": 3, "duplicates": 0}, 202

    tally = Tally()
    with serving(app) as url:
        sender = ReceiverClient(url, API_KEY, sleep=lambda _: None)
        for chunk in batches([Item("line 1", event(n)) for n in range(3)], 500):
            sender.post(chunk, tally)
        sender.close()
    assert tally.accepted == 3
    assert len(bodies) == 3 and len(set(bodies)) == 1
