"""The shipped alert rules (ops/prometheus/alerts.yml), checked and unit-tested with
Prometheus's own promtool on series written in ops/prometheus/alerts_test.yml, and
each one's runbook a section of docs/operations.md.

promtool comes with Debian's ``prometheus`` package (``make test`` installs it where it
may); without it the promtool tests are skipped, saying so."""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest
import yaml

from ..support import ROOT

RULES_DIR = ROOT / "ops" / "prometheus"
PROMTOOL = shutil.which("promtool")
needs_promtool = pytest.mark.skipif(
    PROMTOOL is None, reason="promtool not installed (apt-get install prometheus)"
)


def rules() -> list[dict]:
    groups = yaml.safe_load((RULES_DIR / "alerts.yml").read_text())["groups"]
    return [rule for group in groups for rule in group["rules"]]


def promtool(*args: str) -> str:
    done = subprocess.run(
        [str(PROMTOOL), *args], cwd=RULES_DIR, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


@needs_promtool
def test_the_rules_are_valid_prometheus_rules():
    assert f"SUCCESS: {len(rules())} rules found" in promtool("check", "rules", "alerts.yml")


@needs_promtool
def test_each_alert_fires_on_its_series_and_only_there():
    assert "SUCCESS" in promtool("test", "rules", "alerts_test.yml")
    tested = yaml.safe_load((RULES_DIR / "alerts_test.yml").read_text())["tests"]
    fired = {
        check["alertname"]
        for case in tested
        for check in case["alert_rule_test"]
        if check.get("exp_alerts")
    }
    assert fired == {rule["alert"] for rule in rules()}, "every alert is seen firing"


def test_each_alert_has_a_summary_and_a_runbook_section():
    operations = (ROOT / "docs" / "operations.md").read_text()
    sections = {heading.lower() for heading in re.findall(r"^### (\w+)$", operations, re.M)}
    for rule in rules():
        annotations = rule["annotations"]
        assert annotations["summary"], rule["alert"]
        page, _, anchor = annotations["runbook"].partition("#")
        assert page == "docs/operations.md" and anchor in sections, rule["alert"]
