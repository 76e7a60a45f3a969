"""A web process loads only what the receiver needs: no actors, no broker, no RabbitMQ
client, no platform client (the import-linter contracts in pyproject.toml say the same
of the source; this checks a running app)."""

from __future__ import annotations

import json
import subprocess
import sys

from ..support import API_KEY, ROOT

SCRIPT = """
import json, sys
from webhook.app import create_app
from workers.core.settings import load_settings
settings = load_settings({"REDIS_URL": sys.argv[1], "HOOKRELAY_API_KEYS": sys.argv[2]})
client = create_app(settings).test_client()
for path in ("/healthz", "/readyz", "/metrics", "/openapi.json"):
    client.get(path)
print(json.dumps(sorted(sys.modules)))
"""


def test_a_web_process_imports_no_broker_actor_or_platform_client(redis_url):
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, redis_url, API_KEY],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    loaded = set(json.loads(done.stdout))
    assert "webhook.api.events" in loaded, "the app was built"
    for module in (
        "pika",
        "dramatiq.brokers.rabbitmq",
        "workers.actors",
        "workers.queue.broker",
        "workers.platforms.base",
        "httpx",
    ):
        assert module not in loaded, f"a web process imported {module}"
