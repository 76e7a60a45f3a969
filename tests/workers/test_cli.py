"""``hookrelay dlq ...`` against a real Redis."""

from __future__ import annotations

import json
import re
from datetime import datetime

import pytest
import redis
from click.testing import CliRunner

from workers.campaigns.campaign import Campaign
from workers.campaigns.hook_urls import HookUrls
from workers.campaigns.schema import upgrade
from workers.campaigns.store import Store
from workers.ops.cli import main
from workers.platforms import errors
from workers.queue.deadletters import DeadLetterQueue

from .test_deadletters import failed_message, rejected


@pytest.fixture(autouse=True)
def migrated_store(tmp_path, monkeypatch):
    """The commands' ``DATABASE_URL``: a store of this test's own, migrated."""
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    store = Store(url)
    upgrade(store)
    store.dispose()
    monkeypatch.setenv("DATABASE_URL", url)


def run(redis_url: str, *args: str):
    return CliRunner().invoke(main, list(args), env={"REDIS_URL": redis_url, "BROKER_URL": ""})


def test_list_show_replay_purge(redis_url):
    dlq = DeadLetterQueue(redis.Redis.from_url(redis_url))
    letter = dlq.add(failed_message("e1"), reason="permanent: no", error=rejected(), attempts=2)
    dlq.add(failed_message("e2"), reason="permanent: no", error=rejected(), attempts=1)

    listing = run(redis_url, "dlq", "list")
    assert listing.exit_code == 0
    assert listing.output.startswith("2 dead letter(s)\n")
    assert re.search(rf"{letter.id}  \d{{4}}-\d\d-\d\dT\d\d:\d\d:\d\dZ  ", listing.output)
    assert f"{letter.id}  " in listing.output and "crm_post_event  e1  attempts=2" in listing.output

    shown = json.loads(run(redis_url, "dlq", "show", letter.id).output)
    assert shown["message"]["args"][0]["id"] == "e1"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", shown["failed_at"])
    assert run(redis_url, "dlq", "show", "nope").exit_code == 1

    assert run(redis_url, "dlq", "replay").exit_code == 2, "an id or --all is required"
    assert run(redis_url, "dlq", "replay", letter.id).output == "replayed 1\n"
    assert run(redis_url, "dlq", "replay", letter.id).exit_code == 1
    assert run(redis_url, "dlq", "purge", "--yes").output == "purged 1\n"


def test_bad_setting_is_one_clear_line(redis_url):
    result = CliRunner().invoke(main, ["dlq", "list"], env={"REDIS_URL": "localhost"})
    assert result.exit_code == 1
    assert "configuration error: REDIS_URL: expected a redis://" in result.output


def test_campaign_actions_call_the_platform_and_say_how_it_went(redis_url, clean_sandbox, tmp_path):
    env = {
        "REDIS_URL": redis_url,
        "BROKER_URL": "",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'stats.db'}",
        **clean_sandbox.platform_env(),
    }
    store = Store(env["DATABASE_URL"])
    upgrade(store)
    empty = CliRunner().invoke(main, ["campaign", "list"], env=env)
    assert empty.output.startswith("no campaigns yet: a campaign_start event")
    store.ensure_run(Campaign("crm", 12, "ab"), "started")

    def campaign(*args: str):
        return CliRunner().invoke(main, ["campaign", *args], env=env)

    assert campaign("pause", "crm", "12").exit_code == 1, "a draft cannot be paused"
    clean_sandbox.http.post(
        "/crm/api/v1/ab-mailings/12/start/", auth=("sandbox", "sandbox-secret")
    ).raise_for_status()
    done = campaign("pause", "crm", "12")
    assert done.output == "pause: done (crm ab campaign 12)\n"
    assert clean_sandbox.received("crm.campaign_action")[-1]["path"].endswith(
        "/ab-mailings/12/pause/"
    )
    listing = campaign("list")
    assert re.search(r"crm +12 +ab +paused +\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ +- *$", listing.output)
    assert campaign("resume", "crm", "12").exit_code == 0
    assert "ab    started" in campaign("list").output
    assert CliRunner().invoke(main, ["stats", "crm", "99"], env=env).exit_code == 1


def every_command(group, path=()):
    for name, command in group.commands.items():
        yield (*path, name)
        if hasattr(command, "commands"):
            yield from every_command(command, (*path, name))


def test_every_command_has_help():
    for path in [(), *every_command(main)]:
        result = CliRunner().invoke(main, [*path, "--help"])
        assert result.exit_code == 0, path
        assert "Usage: " in result.output and "Show this message and exit." in result.output
        summary = result.output.split("\n\n")[1].strip()
        assert summary and not summary.startswith("Options:"), f"{path} has no description"
        listed = result.output.partition("Commands:")[2]
        assert "..." not in listed, f"{path}: a command's summary is cut off"


def letters_to_select(redis_url: str) -> list:
    """Four dead letters that differ by platform, status, reason and time."""
    dlq = DeadLetterQueue(redis.Redis.from_url(redis_url))
    made = []
    for event_id, platform, status, reason, failed_at in (
        ("s1", "crm", 400, "permanent: bad email", "2026-11-01T10:00:00Z"),
        ("s2", "crm", 503, "retries ran out after 24 h", "2026-11-02T10:00:00Z"),
        ("s3", "pushwoosh", 400, "permanent: Bad Email", "2026-11-03T10:00:00Z"),
        ("s4", "altcraft", None, "poison value", "2026-11-04T10:00:00Z"),
    ):
        error = errors.Rejected(
            "refused", platform=platform, method="POST", url="http://x/", status=status
        )
        letter = dlq.add(failed_message(event_id), reason=reason, error=error, attempts=1)
        moment = datetime.fromisoformat(failed_at).timestamp()
        client = redis.Redis.from_url(redis_url)
        entry = json.loads(client.hget("hookrelay:dlq:entries", letter.id))
        client.hset("hookrelay:dlq:entries", letter.id, json.dumps({**entry, "failed_at": moment}))
        client.zadd("hookrelay:dlq:index", {letter.id: moment})
        made.append(letter)
    return made


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        (["--platform", "crm"], {"s1", "s2"}),
        (["--reason", "bad email"], {"s1", "s3"}),
        (["--status", "400", "--platform", "pushwoosh"], {"s3"}),
        (["--since", "2026-11-02", "--until", "2026-11-04"], {"s2", "s3"}),
        (["--actor", "crm_post_event", "--reason", "poison"], {"s4"}),
    ],
)
def test_replay_selects_by_filters_and_a_dry_run_only_counts(redis_url, filters, expected):
    letters_to_select(redis_url)
    dry = run(redis_url, "dlq", "replay", *filters, "--dry-run")
    assert dry.output == f"would replay {len(expected)}\n"
    done = run(redis_url, "dlq", "replay", *filters, "--rate", "1000")
    assert done.exit_code == 0, done.output
    assert done.stdout.endswith(f"replayed {len(expected)}\n")
    left = {letter.event_id for letter in DeadLetterQueue(redis.Redis.from_url(redis_url)).newest()}
    assert left == {"s1", "s2", "s3", "s4"} - expected


def test_replay_takes_event_ids_from_a_file_and_refuses_mixed_forms(redis_url, tmp_path):
    letters = letters_to_select(redis_url)
    listed = tmp_path / "ids.txt"
    listed.write_text(f"s2\n\n{letters[3].id}\nnot-a-letter\n")
    assert run(redis_url, "dlq", "replay", "--ids-from", str(listed)).stdout.endswith(
        "replayed 2\n"
    )
    assert run(redis_url, "dlq", "replay", "--all", "--platform", "crm").exit_code == 2
    assert run(redis_url, "dlq", "replay", letters[0].id, "--reason", "x").exit_code == 2


def test_campaign_hook_url_prints_the_template_with_the_campaign_s_token(redis_url):
    missing = run(redis_url, "campaign", "hook-url", "crm", "9093")
    assert missing.exit_code == 1
    assert "set HOOKRELAY_PUBLIC_URL and HOOKRELAY_HOOK_KEYS first" in missing.output
    env = {
        "REDIS_URL": redis_url,
        "BROKER_URL": "",
        "HOOKRELAY_PUBLIC_URL": "https://relay.example.com",
        "HOOKRELAY_HOOK_KEYS": "k" * 32,
    }
    printed = CliRunner().invoke(
        main, ["campaign", "hook-url", "crm", "9093", "--kind", "ab"], env=env
    )
    expected = HookUrls("https://relay.example.com", ("k" * 32,)).template(
        Campaign("crm", 9093, "ab")
    )
    assert printed.output == expected + "\n"


def test_forget_stores_the_request_in_normal_form_and_waits_only_if_asked(redis_url):
    first = run(redis_url, "forget", "email:A@Example.COM", "uid:42", "--suppress")
    assert first.exit_code == 0, first.output
    request_id = first.output.strip()
    stored = redis.Redis.from_url(redis_url).hgetall(f"hookrelay:forget:{request_id}")
    assert json.loads(stored[b"keys"]) == ["email:a@example.com", "uid:42"]
    assert stored[b"suppress"] == b"1"
    again = run(redis_url, "forget", "a@example.com", "uid:42", "--suppress")
    assert again.output.strip() == request_id, "the same person, the same pending request"

    waited = run(redis_url, "forget", "uid:43", "--wait", "0.3")
    assert waited.exit_code == 1 and "is a worker running?" in waited.output
    bad = run(redis_url, "forget", "nobody")
    assert bad.exit_code == 2 and "names no identifier" in bad.output
