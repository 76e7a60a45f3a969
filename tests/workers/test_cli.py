"""``hookrelay dlq ...`` against a real Redis."""

from __future__ import annotations

import json

import redis
from click.testing import CliRunner

from workers.cli import main
from workers.deadletters import DeadLetterQueue

from .test_deadletters import failed_message, rejected


def run(redis_url: str, *args: str):
    return CliRunner().invoke(main, list(args), env={"REDIS_URL": redis_url, "BROKER_URL": ""})


def test_list_show_replay_purge(redis_url):
    dlq = DeadLetterQueue(redis.Redis.from_url(redis_url))
    letter = dlq.add(failed_message("e1"), reason="permanent: no", error=rejected(), attempts=2)
    dlq.add(failed_message("e2"), reason="permanent: no", error=rejected(), attempts=1)

    listing = run(redis_url, "dlq", "list")
    assert listing.exit_code == 0
    assert listing.output.startswith("2 dead letter(s)\n")
    assert f"{letter.id}  " in listing.output and "crm_post_event  e1  attempts=2" in listing.output

    shown = json.loads(run(redis_url, "dlq", "show", letter.id).output)
    assert shown["message"]["args"][0]["id"] == "e1"
    assert run(redis_url, "dlq", "show", "nope").exit_code == 1

    assert run(redis_url, "dlq", "replay").exit_code == 2, "an id or --all is required"
    assert run(redis_url, "dlq", "replay", letter.id).output == "replayed 1\n"
    assert run(redis_url, "dlq", "replay", letter.id).exit_code == 1
    assert run(redis_url, "dlq", "purge", "--yes").output == "purged 1\n"


def test_bad_setting_is_one_clear_line(redis_url):
    result = CliRunner().invoke(main, ["dlq", "list"], env={"REDIS_URL": "localhost"})
    assert result.exit_code == 1
    assert "configuration error: REDIS_URL: expected a redis://" in result.output
