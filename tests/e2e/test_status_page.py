"""``/status`` and ``/docs/`` in headless Chromium: the numbers the status page shows
are the API's and /metrics', and "Try it out" with the example shown works.

Needs Debian's chromium and chromium-driver (``make test`` installs them where it can);
skipped, saying so, where they are absent.
"""

from __future__ import annotations

import shutil

import httpx
import pytest

from webhook.api.campaign_chart import MEASURES
from webhook.api.campaign_chart import TOP as CHART_TOP

from ..support import API_KEY, free_port, wait_for
from .stack import running_stack
from .test_operations import samples, total
from .test_procfile_stack import track_event

CHROMEDRIVER = shutil.which("chromedriver")
pytestmark = pytest.mark.skipif(
    CHROMEDRIVER is None or shutil.which("chromium") is None,
    reason="headless Chromium not installed (apt-get install chromium chromium-driver)",
)
EVENTS = 12


def campaign_start(campaign_id: int) -> dict:
    return {
        "id": f"start-{campaign_id}",
        "type": "campaign_start",
        "timestamp": "2026-11-23T10:00:00Z",
        "campaign": {"platform": "crm", "kind": "mailing", "id": campaign_id},
    }


def settled(url: str) -> dict:
    """The worker's deliveries once they stopped changing for a second."""
    previous: list = [None]

    def unchanged():
        found = samples(httpx.get(url).text)
        now = {k: v for k, v in found.items() if k[0] == "hookrelay_deliveries_total"}
        same, previous[0] = now == previous[0], now
        return found if same else None

    return wait_for(unchanged, timeout_s=60, interval_s=1.0)


def delivered_crm_at_least(found: dict, count: int) -> bool:
    return total(found, "hookrelay_deliveries_total", platform="crm", outcome="delivered") >= count


@pytest.fixture(scope="module")
def metrics_port() -> int:
    return free_port()


@pytest.fixture(scope="module")
def stack(tmp_path_factory, metrics_port):
    """One stack for both pages (the status page's test stops its workers)."""
    with running_stack(
        tmp_path_factory.mktemp("pages"), FOLLOWUP_SCHEDULE="1", METRICS_PORT=str(metrics_port)
    ) as running:
        yield running


@pytest.fixture(scope="module")
def browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage"):
        options.add_argument(argument)
    options.binary_location = shutil.which("chromium")
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.execute_cdp_cmd("Network.enable", {})
    driver.execute_cdp_cmd(
        "Network.setExtraHTTPHeaders", {"headers": {"Authorization": f"Bearer {API_KEY}"}}
    )
    yield driver
    driver.quit()


def cell(browser, selector: str) -> str:
    from selenium.webdriver.common.by import By

    return browser.find_element(By.CSS_SELECTOR, selector).text.strip()


def test_a_campaign_page_draws_what_the_store_holds_over_time(stack, browser, tmp_path):
    """Runs first: it needs the workers, which the next test stops."""
    from selenium.webdriver.common.by import By

    stack.post([campaign_start(79)])
    stats = "/v1/campaigns/crm/79/stats"
    wait_for(lambda: stack.http.get(stats).json().get("series", {}).get("crm.report"), timeout_s=60)
    plant_earlier_days(stack, 79, days=4)
    series = stack.http.get(stats).json()["series"]["crm.report"]
    browser.get(f"{stack.http.base_url}/status")
    browser.find_element(By.CSS_SELECTOR, 'tr[data-campaign="crm:79"] a.campaign-page').click()
    wait_for(lambda: "campaign 79" in browser.title, timeout_s=10)
    browser.set_window_size(1400, 900)
    browser.save_screenshot(str(tmp_path / "campaign.png"))

    sent: dict[str, float] = {}
    for metrics in series.values():
        for day, value in metrics["sum_sended"]:
            sent[day] = sent.get(day, 0) + value
    assert len(sent) == 5
    for day, value in sent.items():
        shown = cell(browser, f'tr[data-interval="{day}"] td[data-measure="sent"]')
        assert float(shown) == pytest.approx(value), day
    dots = browser.find_elements(By.CSS_SELECTOR, "#campaign-chart circle.sent")
    assert len(dots) == 5
    heights = [float(dot.get_attribute("cy")) for dot in dots]
    assert heights == sorted(heights, reverse=True), "each day back was smaller"
    every = browser.find_elements(By.CSS_SELECTOR, "#campaign-chart circle")
    assert min(float(dot.get_attribute("cy")) for dot in every) == CHART_TOP, "the peak on top"
    legend = browser.find_elements(By.CSS_SELECTOR, "#campaign-chart text.legend")
    assert [text.text for text in legend] == list(MEASURES), "every measure the report has"


def plant_earlier_days(stack, campaign_id: int, *, days: int) -> None:
    """Earlier days of the S2S report, as an automated campaign followed daily would
    have them: what the fetch stored for today, scaled down a little each day back."""
    from datetime import date, timedelta

    from workers.campaigns.store import TOTAL, Snapshot, Store

    store = Store(stack.env["DATABASE_URL"])
    run = store.run("crm", campaign_id)
    today = [s for s in store.snapshots(run.id) if s.source == "crm.report" and s.interval != TOTAL]
    earlier = [
        Snapshot(
            s.subject,
            s.metric,
            (date.fromisoformat(s.interval) - timedelta(days=back)).isoformat(),
            s.value * (1 - back / 10),
        )
        for back in range(1, days + 1)
        for s in today
    ]
    store.save_snapshots(run.id, "crm.report", earlier)
    store.dispose()


def test_the_status_page_shows_what_the_api_says(stack, metrics_port, browser):
    sandbox = stack.sandbox
    sandbox.fault("crm.events", status=400, count=1)
    stack.post([track_event(seq, "status") for seq in range(EVENTS)] + [campaign_start(77)])
    wait_for(lambda: len(sandbox.accepted("crm.events")) == EVENTS - 1, timeout_s=60)
    dlq = wait_for(lambda: stack.http.get("/v1/dlq").json()["letters"], timeout_s=30)
    stats = wait_for(
        lambda: stack.http.get("/v1/campaigns/crm/77/stats").json().get("totals"),
        timeout_s=60,
    )
    worker_metrics = settled(f"http://127.0.0.1:{metrics_port}/metrics")
    for worker in stack.workers:
        worker.stop()
    metrics = samples(stack.http.get("/metrics").text)

    browser.get(f"{stack.http.base_url}/status")
    assert browser.title == "hookrelay status"

    for queue in ("crm", "crm.DQ", "campaigns", "stats", "profiles-buffer"):
        shown = cell(browser, f'tr[data-queue="{queue}"] .depth')
        assert int(shown) == total(metrics, "hookrelay_queue_depth", queue=queue), queue

    for platform in ("crm", "pushwoosh", "altcraft"):
        delivered = total(
            worker_metrics, "hookrelay_deliveries_total", platform=platform, outcome="delivered"
        )
        assert int(cell(browser, f'#deliveries tr[data-platform="{platform}"] .hour')) == delivered
    assert delivered_crm_at_least(worker_metrics, EVENTS - 1)
    points = browser.find_element("css selector", "#chart polyline.crm").get_attribute("points")
    assert len(points.split()) == 59, "the finished minutes; the one under way is a mark"
    assert browser.find_elements("css selector", "#chart circle.crm.now")
    ticks = [t.text for t in browser.find_elements("css selector", "#chart text.tick")]
    assert len(ticks) == 6 and all(label.endswith("0") for label in ticks), ticks
    assert [t.text for t in browser.find_elements("css selector", "#legend text")] == [
        "crm",
        "pushwoosh",
        "altcraft",
    ]

    for platform in ("crm", "pushwoosh", "altcraft"):
        row = f'#rates tr[data-platform="{platform}"]'
        current = total(metrics, "hookrelay_rate_limit_current", platform=platform)
        assert float(cell(browser, f"{row} .current")) == current
        ceiling = total(metrics, "hookrelay_rate_limit_ceiling", platform=platform)
        assert float(cell(browser, f"{row} .ceiling")) == ceiling

    assert int(cell(browser, "#dead-letters")) == stack.http.get("/v1/dlq").json()["count"]
    assert cell(browser, f'tr[data-letter="{dlq[0]["id"]}"] .reason') == dlq[0]["reason"]

    row = 'tr[data-campaign="crm:77"]'
    report = stats["crm.report"]
    for column, metric in [("sends", "sum_sended"), ("delivered", "sum_delivered")]:
        expected = sum(metrics_[metric] for metrics_ in report.values())
        assert float(cell(browser, f"{row} .{column}")) == pytest.approx(expected), column
    assert cell(browser, f"{row} .next-fetch") == "\u2013", "its one-step schedule is over"
    browser.find_element("css selector", f"{row} details summary").click()
    shown = {
        element.get_attribute("data-key"): element.find_element("tag name", "b").text
        for element in browser.find_elements("css selector", f"{row} .total")
    }
    served = {
        f"{source}|{subject}|{metric}": value
        for source, subjects in stats.items()
        for subject, metrics_ in subjects.items()
        for metric, value in metrics_.items()
    }
    assert shown.keys() == served.keys()
    for key, value in served.items():
        assert float(shown[key]) == pytest.approx(value, abs=1e-4), key

    assert cell(browser, '#rates tr[data-platform="crm"] .state') == "healthy", "4xx answer"
    assert cell(browser, '#rates tr[data-platform="crm"] .errors-5').startswith("0 % of ")
    from selenium.webdriver.support.ui import WebDriverWait

    lettered = dlq[0]["event_id"]
    delivered_id = next(f"status-e{n}" for n in range(EVENTS) if f"status-e{n}" != lettered)
    for event_id, state in [(delivered_id, "delivered"), (lettered, "dead lettered")]:
        search = browser.find_element("css selector", "#event-search input[name=id]")
        search.clear()
        search.send_keys(event_id)
        search.submit()
        WebDriverWait(browser, 10).until(lambda _, wanted=event_id: wanted in browser.title)
        assert cell(browser, "#state") == state, event_id


def test_try_it_out_with_the_shown_example_is_accepted(stack, browser):
    """A newcomer at /docs/: authorize with the key, try POST /v1/events as shown."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ready
    from selenium.webdriver.support.ui import WebDriverWait

    browser.execute_cdp_cmd("Network.setExtraHTTPHeaders", {"headers": {}})
    browser.get(f"{stack.http.base_url}/docs/")
    assert browser.title == "hookrelay API"
    wait = WebDriverWait(browser, 30)

    def click(selector: str, within=browser):
        wait.until(lambda _: within.find_element(By.CSS_SELECTOR, selector).is_displayed())
        within.find_element(By.CSS_SELECTOR, selector).click()

    click(".btn.authorize")
    wait.until(ready.visibility_of_element_located((By.CSS_SELECTOR, ".auth-container")))
    [bearer] = [
        container
        for container in browser.find_elements(By.CSS_SELECTOR, ".auth-container")
        if container.find_element(By.TAG_NAME, "h4").text.split()[0] == "apiKey"
    ]
    bearer.find_element(By.CSS_SELECTOR, "input").send_keys(API_KEY)
    click("button.authorize", within=bearer)
    click("button.btn-done")

    operation = browser.find_element(By.ID, "operations-events-postEvents")
    click(".opblock-summary", within=operation)
    click(".try-out__btn", within=operation)
    click(".btn.execute", within=operation)
    status = wait.until(
        lambda _: operation.find_element(
            By.CSS_SELECTOR, ".live-responses-table tbody .response-col_status"
        ).text.strip()
    )
    assert status == "202", operation.text
    assert "accepted" in operation.find_element(By.CSS_SELECTOR, ".live-responses-table").text
