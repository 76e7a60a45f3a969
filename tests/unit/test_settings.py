"""A bad or missing setting is one line naming the variable."""

from __future__ import annotations

import pytest

from workers.settings import ConfigError, embedded_redis_url, load_settings


def test_defaults_use_embedded_redis_and_the_sandbox():
    settings = load_settings({})
    assert settings.embedded_redis
    assert settings.redis_url == settings.broker_url == embedded_redis_url()
    assert settings.crm.base_url == "http://127.0.0.1:8100/crm"
    assert settings.crm.rate_limit == 10
    assert settings.followup_schedule == (300, 1800, 7200, 21600, 86400, 259200)
    assert settings.frequency_cap is None
    assert settings.api_keys == ()


def test_values_are_parsed():
    settings = load_settings(
        {
            "REDIS_URL": "redis://example:6379/1",
            "HOOKRELAY_API_KEYS": "a, b,",
            "CRM_RATE_LIMIT": "2.5",
            "FOLLOWUP_SCHEDULE": "1,2,3",
            "FREQUENCY_CAP": "3",
        }
    )
    assert not settings.embedded_redis
    assert settings.broker_url == "redis://example:6379/1"
    assert settings.api_keys == ("a", "b")
    assert settings.crm.rate_limit == 2.5
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
        ({"CRM_BASE_URL": "ftp://x"}, "CRM_BASE_URL"),
        ({"REDIS_URL": "localhost:6379"}, "REDIS_URL"),
        ({"BROKER_URL": "kafka://localhost"}, "BROKER_URL"),
        ({"REDIS_URL": "redis://a:6379", "BROKER_URL": "redis://b:6379"}, "BROKER_URL"),
    ],
)
def test_bad_values_name_the_variable(env, variable):
    with pytest.raises(ConfigError) as caught:
        load_settings(env)
    assert caught.value.variable == variable
    assert str(caught.value).startswith(f"{variable}: ")
    assert "\n" not in str(caught.value)


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
    settings = load_settings({"HOOKRELAY_API_KEYS": "key-abc", "CRM_SECRET": "crm-xyz"})
    assert "key-abc" not in repr(settings)
    assert "crm-xyz" not in repr(settings)
