"""Settings: every bad or missing value is reported at once, one line per variable, and
a platform is on only when all its settings are given."""

from __future__ import annotations

import pytest

from workers.core.redis_settings import embedded_redis_url
from workers.core.settings import (
    PLATFORM_VARIABLES,
    ConfigError,
    load_settings,
)
from workers.ops.devstack import sandbox_env

CRM = {"CRM_BASE_URL": "https://crm.example/", "CRM_LOGIN": "me", "CRM_SECRET": "crm-xyz"}


def test_defaults_use_embedded_redis_and_leave_every_platform_off():
    settings = load_settings({})
    assert settings.embedded_redis
    assert settings.redis_url == settings.broker_url == embedded_redis_url()
    assert (settings.crm, settings.pushwoosh, settings.altcraft) == (None, None, None)
    assert settings.platforms_on == ()
    assert settings.rate_limits == {"crm": 10, "pushwoosh": 5, "altcraft": 5}
    assert settings.followup_schedule == (300, 1800, 7200, 21600, 86400, 259200)
    assert settings.frequency_cap is None
    assert settings.api_keys == ()


def test_a_platform_is_on_with_all_its_settings():
    settings = load_settings(CRM)
    assert settings.platforms_on == ("crm",)
    assert settings.crm.base_url == "https://crm.example"
    assert (settings.crm.login, settings.crm.secret) == ("me", "crm-xyz")


def test_the_dev_stack_turns_every_platform_on():
    settings = load_settings(sandbox_env("http://127.0.0.1:8100"))
    assert settings.platforms_on == tuple(PLATFORM_VARIABLES)
    assert settings.altcraft.list_id == 1


def test_part_of_a_platform_names_each_missing_setting():
    with pytest.raises(ConfigError) as caught:
        load_settings({"PUSHWOOSH_API_TOKEN": "tok"})
    assert set(caught.value.problems) == {"PUSHWOOSH_BASE_URL", "PUSHWOOSH_APPLICATION"}
    assert "PUSHWOOSH_API_TOKEN turned pushwoosh on" in caught.value.problems["PUSHWOOSH_BASE_URL"]


def test_values_are_parsed():
    settings = load_settings(
        {
            "REDIS_URL": "redis://example:6379/1",
            "HOOKRELAY_API_KEYS": "a, b,",
            "CRM_RATE_LIMIT": "2.5",
            "FOLLOWUP_SCHEDULE": "1, 2,3",
            "FREQUENCY_CAP": "3",
        }
    )
    assert not settings.embedded_redis
    assert settings.broker_url == "redis://example:6379/1"
    assert settings.api_keys == ("a", "b")
    assert settings.rate_limits["crm"] == 2.5
    assert settings.followup_schedule == (1, 2, 3)
    assert settings.frequency_cap == 3


@pytest.mark.parametrize(
    ("env", "variable"),
    [
        ({"CRM_RATE_LIMIT": "fast"}, "CRM_RATE_LIMIT"),
        ({"CRM_RATE_LIMIT": "0"}, "CRM_RATE_LIMIT"),
        ({"PORT": "70000"}, "PORT"),
        ({"PROFILE_BATCH_MAX": "-1"}, "PROFILE_BATCH_MAX"),
        ({"FOLLOWUP_SCHEDULE": "5,soon"}, "FOLLOWUP_SCHEDULE"),
        ({**CRM, "CRM_BASE_URL": "ftp://x"}, "CRM_BASE_URL"),
        ({"REDIS_URL": "localhost:6379"}, "REDIS_URL"),
        ({"BROKER_URL": "kafka://localhost"}, "BROKER_URL"),
        ({"REDIS_URL": "redis://a:6379", "BROKER_URL": "redis://b:6379"}, "BROKER_URL"),
        ({"HOOKRELAY_HOOK_KEYS": "short"}, "HOOKRELAY_HOOK_KEYS"),
        ({"HOOKRELAY_HOOK_PLACEHOLDER": "{field}"}, "HOOKRELAY_HOOK_PLACEHOLDER"),
        ({"HOOKRELAY_PUBLIC_URL": "relay.example.com"}, "HOOKRELAY_PUBLIC_URL"),
    ],
)
def test_a_bad_value_names_the_variable(env, variable):
    with pytest.raises(ConfigError) as caught:
        load_settings(env)
    assert caught.value.variable == variable
    assert str(caught.value).startswith(f"{variable}: ")
    assert "\n" not in str(caught.value)


def test_every_bad_value_is_reported_at_once():
    with pytest.raises(ConfigError) as caught:
        load_settings(
            {
                "PORT": "http",
                "CRM_RATE_LIMIT": "fast",
                "FOLLOWUP_SCHEDULE": "5,soon",
                "REDIS_URL": "localhost",
                "LOG_FORMAT": "xml",
            }
        )
    problems = caught.value.problems
    assert list(problems) == [
        "CRM_RATE_LIMIT",
        "FOLLOWUP_SCHEDULE",
        "LOG_FORMAT",
        "PORT",
        "REDIS_URL",
    ]
    assert problems["FOLLOWUP_SCHEDULE"] == "expected comma-separated whole seconds, each ≥ 1"
    assert problems["PORT"] == "Not a valid integer."
    assert str(caught.value).splitlines() == caught.value.lines()
    assert len(caught.value.lines()) == 5


def test_an_amqp_broker_url_selects_rabbitmq_and_redis_stays_for_state():
    settings = load_settings(
        {"REDIS_URL": "redis://a:6379", "BROKER_URL": "amqp://relay:pw-rabbit@mq:5672/hookrelay"}
    )
    assert settings.rabbitmq
    assert settings.redis_url == "redis://a:6379"
    assert "pw-rabbit" in settings.secrets()
    assert not load_settings({"REDIS_URL": "redis://a:6379", "BROKER_URL": ""}).rabbitmq


def test_receiver_requires_api_keys():
    with pytest.raises(ConfigError) as caught:
        load_settings({}).require_api_keys()
    assert caught.value.variable == "HOOKRELAY_API_KEYS"


def test_secrets_stay_out_of_repr():
    hook_key = "h" * 32
    settings = load_settings(
        {"HOOKRELAY_API_KEYS": "key-abc", "HOOKRELAY_HOOK_KEYS": hook_key, **CRM}
    )
    assert "key-abc" not in repr(settings)
    assert hook_key not in repr(settings) and hook_key in settings.secrets()
    assert "crm-xyz" not in repr(settings)
    assert "crm-xyz" in settings.secrets()
