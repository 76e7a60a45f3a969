"""``hookrelay campaign create|rewrite|show|list --kind`` against a running ``web`` and
the sandbox: the commands are clients of the receiver's API."""

from __future__ import annotations

import base64
import json

import pytest
from click.testing import CliRunner

from workers.ops.cli import main

from ..support import API_KEY
from .stack import running_stack

PUBLIC_URL = "https://relay.example.com"


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    with running_stack(
        tmp_path_factory.mktemp("campaign-cli"),
        workers=0,
        HOOKRELAY_PUBLIC_URL=PUBLIC_URL,
        HOOKRELAY_HOOK_KEYS="k" * 32,
    ) as stack:
        yield stack


def hookrelay(stack, *args: str):
    """``hookrelay <args>`` as a user runs it against the stack's receiver."""
    url = str(stack.http.base_url)
    env = {"DATABASE_URL": stack.env["DATABASE_URL"], "REDIS_URL": stack.env["REDIS_URL"]}
    return CliRunner().invoke(main, [*args, "--url", url, "--key", API_KEY], env=env)


def campaign(stack, *args: str):
    return hookrelay(stack, "campaign", *args)


def segment(stack, *args: str):
    return hookrelay(stack, "segment", *args)


def test_a_campaign_is_created_with_a_file_shown_listed_and_rewritten(stack, tmp_path):
    spec = tmp_path / "ab.json"
    spec.write_text(
        json.dumps({"kind": "ab", "messages_type": "L", "message_id": 5, "source_type": "U"})
    )
    csv = tmp_path / "audience.csv"
    csv.write_bytes(b"email\na@example.com\n")
    created = campaign(stack, "create", str(spec), "--csv", str(csv))
    assert created.exit_code == 0, created.output
    answer = json.loads(created.output)
    campaign_id = answer["id"]
    assert (
        answer["source_uploaded_csv"]
        == "data:text/csv;base64," + base64.b64encode(csv.read_bytes()).decode()
    )
    assert answer["config"]["hook_url_template"].startswith(f"{PUBLIC_URL}/v1/hooks/crm?")

    shown = json.loads(campaign(stack, "show", "ab", str(campaign_id)).output)
    assert shown["id"] == campaign_id
    listed = json.loads(campaign(stack, "list", "--kind", "ab").output)
    assert [c["id"] for c in listed["campaigns"]] == [campaign_id]

    spec.write_text(
        json.dumps(
            {
                "kind": "ab",
                "messages_type": "L",
                "message_id": 6,
                "source_type": "A",
                "source_id": 2,
            }
        )
    )
    rewritten = campaign(stack, "rewrite", str(campaign_id), str(spec))
    assert json.loads(rewritten.output)["message_id"] == 6


def test_a_bad_campaign_is_refused_naming_the_field(stack, tmp_path):
    spec = tmp_path / "bad.json"
    spec.write_text(json.dumps({"kind": "automated", "message_type": "L", "message_id": 1}))
    refused = campaign(stack, "create", str(spec))
    assert refused.exit_code == 1
    assert "422" in refused.output and "source_type" in refused.output


def test_a_segment_is_created_edited_and_generated_from_the_cli(stack, tmp_path):
    spec = tmp_path / "segment.json"
    spec.write_text(json.dumps({"name": "VIP", "condition": {"level": {"gte": 7}}}))
    created = segment(stack, "create", str(spec))
    assert created.exit_code == 0, created.output
    segment_id = str(json.loads(created.output)["id"])
    spec.write_text(json.dumps({"segment_limit": 500}))
    edited = json.loads(segment(stack, "rewrite", segment_id, str(spec), "--partial").output)
    assert (edited["name"], edited["segment_limit"]) == ("VIP", 500)
    assert json.loads(segment(stack, "generate", segment_id).output)["generating"] == int(
        segment_id
    )
    assert [s["name"] for s in json.loads(segment(stack, "list").output)["segments"]] == ["VIP"]
    assert json.loads(segment(stack, "show", segment_id).output)["segment_limit"] == 500
