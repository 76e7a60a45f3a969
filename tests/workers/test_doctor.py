"""``hookrelay doctor`` against a real Redis, a real store and the sandbox."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from workers.campaigns.schema import upgrade
from workers.campaigns.store import Store
from workers.ops.cli import main

from ..rabbitmq import RABBITMQ_URL, rabbitmq_or_skip
from ..support import API_KEY


@pytest.fixture
def healthy_env(redis_url, clean_sandbox, tmp_path) -> dict[str, str]:
    database_url = f"sqlite:///{tmp_path / 'stats.db'}"
    upgrade(Store(database_url))
    return {
        "REDIS_URL": redis_url,
        "DATABASE_URL": database_url,
        "HOOKRELAY_API_KEYS": API_KEY,
        "HOOKRELAY_HOOK_USER": "platform",
        "HOOKRELAY_HOOK_PASSWORD": "hook-secret",
        **clean_sandbox.platform_env(),
    }


def doctor(env: dict[str, str]):
    return CliRunner().invoke(main, ["doctor"], env=env)


def lines(output: str, level: str) -> list[str]:
    return [line for line in output.splitlines() if line.startswith(level)]


def test_a_healthy_deployment_passes_with_one_harmless_read_per_platform(
    healthy_env, clean_sandbox
):
    result = doctor(healthy_env)
    assert result.exit_code == 0, result.output
    assert result.output.endswith("All set.\n")
    accepted = [line.split()[1] for line in lines(result.output, "ok") if "credentials" in line]
    assert accepted == ["crm", "pushwoosh", "altcraft"]
    assert f"answers at {healthy_env['REDIS_URL']}" in result.output
    assert [call["route"] for call in clean_sandbox.received()] == [
        "crm.reports",
        "pushwoosh.messages",
        "altcraft.history",
    ]


def test_wrong_credentials_name_the_variables_to_check(healthy_env):
    wrong = {"CRM_SECRET": "nope", "PUSHWOOSH_API_TOKEN": "nope", "ALTCRAFT_TOKEN": "nope"}
    result = doctor({**healthy_env, **wrong})
    assert result.exit_code == 1
    failures = lines(result.output, "fail")
    assert [line.split()[1] for line in failures] == ["crm", "pushwoosh", "altcraft"]
    crm_url = healthy_env["CRM_BASE_URL"]
    assert f"configured at {crm_url}: credentials refused, or this host's IP" in failures[0]
    assert "allow-list" in failures[0] and "check CRM_LOGIN/CRM_SECRET" in failures[0]
    assert "check PUSHWOOSH_API_TOKEN/PUSHWOOSH_APPLICATION" in failures[1]
    assert "check ALTCRAFT_TOKEN/ALTCRAFT_LIST_ID" in failures[2]
    assert result.output.endswith("3 problem(s) to fix.\n")


def test_unreachable_redis_and_store_and_a_wrong_base_url(healthy_env, clean_sandbox):
    result = doctor(
        {
            **healthy_env,
            "REDIS_URL": "redis://:pw@127.0.0.1:1/0",
            "DATABASE_URL": "postgresql://nobody@127.0.0.1:1/none",
            "CRM_BASE_URL": f"{clean_sandbox.url}/nothing-here",
        }
    )
    assert result.exit_code == 1
    failures = "\n".join(lines(result.output, "fail"))
    assert "cannot reach redis://:***@127.0.0.1:1/0" in failures
    assert "pw@" not in result.output
    assert "store          cannot open postgresql://nobody@127.0.0.1:1/none" in failures
    wrong_url = f"{clean_sandbox.url}/nothing-here"
    assert f"crm            configured at {wrong_url}: no such path: check CRM_BASE_URL" in failures
    assert "credentials accepted" in result.output, "the other platforms are still checked"


def test_an_old_schema_says_to_migrate(healthy_env, tmp_path):
    env = {**healthy_env, "DATABASE_URL": f"sqlite:///{tmp_path / 'old.db'}"}
    with Store(env["DATABASE_URL"]).engine.begin() as connection:
        connection.exec_driver_sql("CREATE TABLE placeholder (id INTEGER)")
    result = doctor(env)
    assert result.exit_code == 1, result.output
    [failure] = lines(result.output, "fail")
    assert "schema revision none, this release needs 0003: run 'hookrelay migrate'" in failure


def test_platforms_not_configured_and_missing_hook_credentials_are_warnings(healthy_env):
    env = {
        key: value
        for key, value in healthy_env.items()
        if not key.startswith(("PUSHWOOSH_", "ALTCRAFT_")) and key != "HOOKRELAY_HOOK_PASSWORD"
    }
    result = doctor(env)
    assert result.exit_code == 0, result.output
    warnings = lines(result.output, "warn")
    assert "platform hooks get 401" in warnings[0]
    assert [line.split()[1] for line in warnings[1:]] == ["pushwoosh", "altcraft"]
    assert "off: not configured" in warnings[1]
    assert "set PUSHWOOSH_BASE_URL, PUSHWOOSH_API_TOKEN, PUSHWOOSH_APPLICATION" in warnings[1]
    crm_url = healthy_env["CRM_BASE_URL"]
    assert f"configured at {crm_url}: credentials accepted" in result.output, "crm is checked"


def test_a_platform_nothing_listens_for_is_named_with_the_url_tried(healthy_env):
    result = doctor({**healthy_env, "ALTCRAFT_BASE_URL": "http://127.0.0.1:9/altcraft"})
    assert result.exit_code == 1
    [failure] = lines(result.output, "fail")
    assert "altcraft       configured at http://127.0.0.1:9/altcraft: cannot reach it" in failure


def test_a_bad_setting_is_the_only_finding():
    result = doctor({"REDIS_URL": "localhost"})
    assert result.exit_code == 1
    assert result.output.splitlines()[0].startswith("fail  configuration  REDIS_URL: expected")


def test_rabbitmq_as_the_broker_is_checked_and_wrong_credentials_named(healthy_env):
    rabbitmq_or_skip().close()
    result = doctor({**healthy_env, "BROKER_URL": RABBITMQ_URL})
    assert result.exit_code == 0, result.output
    [found] = [line for line in lines(result.output, "ok") if " rabbitmq " in line]
    assert "RabbitMQ answers at amqp://guest:***@" in found
    assert "waiting: campaigns " in found

    wrong = RABBITMQ_URL.replace("guest:guest@", "guest:wrong@")
    result = doctor({**healthy_env, "BROKER_URL": wrong})
    assert result.exit_code == 1
    [failure] = lines(result.output, "fail")
    assert "rabbitmq       credentials refused at amqp://guest:***@" in failure
    assert "wrong" not in result.output
