"""The desk page in a real headless Chromium, fed through real Kafka topics: the board shows
an incident from the incidents topic, caller lookup finds it for an affected user and not for
an unaffected one, and a subscription travels through the subscriptions topic back onto the
page. Takes a screenshot of the board; `CORRELATOR_UPDATE_SCREENSHOT=1` writes it to
docs/desk.png (the README's picture), so an ordinary run leaves the checkout clean."""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

from correlator.desk.api import Desk
from correlator.desk.subscriptions import decode_subscription, subscriptions_topic
from correlator.desk.view import DeskView
from correlator.worker.config import WorkerConfig
from correlator.worker.http import Health, HttpService, Webhook
from correlator.worker.kafka.client import KafkaClients
from correlator.worker.kafka.incidents_view import IncidentsViewReader
from correlator.worker.kafka.tools import TopicTail, produce
from correlator.worker.ports import TopicSpec
from tests.conftest import KafkaNames
from tests.unit.desk.conftest import by_title, demo_records
from topology import load_example
from topology.loader import example_topology_path

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
SCREENSHOT = Path(__file__).resolve().parents[2] / "docs" / "desk.png"

pytestmark = [
    pytest.mark.kafka,
    pytest.mark.slow,
    pytest.mark.skipif(
        CHROMIUM is None or CHROMEDRIVER is None,
        reason="chromium not installed (apt-get install chromium chromium-driver)",
    ),
]

webdriver = pytest.importorskip("selenium.webdriver")
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.remote.webdriver import WebDriver  # noqa: E402


@pytest.fixture
def browser() -> Iterator[WebDriver]:
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM or ""
    profile = tempfile.mkdtemp(prefix="desk-chromium-")
    for flag in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        f"--user-data-dir={profile}",
        "--window-size=1400,900",
    ):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def wait_for(check: Callable[[], bool], what: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def test_the_desk_page_end_to_end(
    kafka_bootstrap: str, kafka_names: KafkaNames, browser: WebDriver, tmp_path: Path
) -> None:
    config = WorkerConfig(
        bootstrap_servers=kafka_bootstrap,
        group_id=kafka_names.group_id,
        incidents_topic=kafka_names.incidents,
        alerts_topic=kafka_names.alerts,
        dlq_topic=kafka_names.dlq,
        topology=str(example_topology_path()),
    )
    subs_topic = subscriptions_topic(config.group_id)
    clients = KafkaClients(config)
    admin = clients.admin()
    admin.ensure_topics([TopicSpec(kafka_names.incidents, 2), TopicSpec(subs_topic, 1)])
    admin.close()
    records = demo_records(4)
    produce(
        kafka_bootstrap,
        kafka_names.incidents,
        ((r.id.encode(), r.to_json(), None) for r in records),
    )
    wan = by_title(records, "WAN")

    view = DeskView()
    reader = IncidentsViewReader(
        view, config=config, incidents_topic=kafka_names.incidents, subscriptions_topic=subs_topic
    ).start()
    topology = load_example()
    desk = Desk(view, lambda: topology)
    service = HttpService(
        CollectorRegistry(), Health(), "127.0.0.1", 0, desk=desk, subscriptions_topic=subs_topic
    ).start()
    service.open_webhook(Webhook.from_config(config, clients.producer))
    try:
        assert reader.wait_ready(30), reader.error
        browser.get(f"http://127.0.0.1:{service.port}/")
        board = lambda: browser.find_element(By.ID, "board").text  # noqa: E731
        wait_for(lambda: "Dallas - New York WAN circuit" in board(), "the board")
        row = browser.find_element(By.CSS_SELECTOR, f'tr[data-id="{wan.id}"]')
        assert "P1" in row.text and "200" in row.text and "Network operations" in row.text
        assert "min" in row.find_element(By.CSS_SELECTOR, "td.due").text
        summary = browser.find_element(By.ID, "summary").text
        assert "200 people cannot work" in summary
        shot = tmp_path / "desk.png"
        assert browser.save_screenshot(str(shot)) and shot.stat().st_size > 10_000
        if os.environ.get("CORRELATOR_UPDATE_SCREENSHOT") == "1":
            shutil.copyfile(shot, SCREENSHOT)

        def look_up(who: str) -> str:
            box = browser.find_element(By.ID, "lookup-who")
            box.clear()
            box.send_keys(who)
            browser.find_element(By.CSS_SELECTOR, "#lookup-form button").click()
            result = lambda: browser.find_element(By.ID, "lookup-result").text  # noqa: E731
            # The page empties the result when the lookup starts.
            wait_for(lambda: bool(result().strip()), f"the lookup of {who}")
            return result()

        found = look_up("alice@example.com")
        assert "Dallas - New York WAN circuit has been down since" in found
        assert "Network operations is working on it" in found
        nothing = look_up("dave")
        assert "No open incident affects this caller." in nothing
        assert "WAN" not in nothing

        look_up("alice")
        wait_for(
            lambda: not browser.find_element(By.ID, "detail").get_attribute("hidden"), "detail"
        )
        browser.find_element(By.CSS_SELECTOR, f'tr[data-id="{wan.id}"]').click()
        wait_for(lambda: wan.title in browser.find_element(By.ID, "detail-title").text, "detail")
        timeline = browser.find_element(By.ID, "timeline").text
        assert "v1 open" in timeline
        who = browser.find_element(By.ID, "subscribe-who")
        who.clear()
        who.send_keys("alice")
        browser.find_element(By.CSS_SELECTOR, "#subscribe-form button").click()
        wait_for(
            lambda: "alice" in browser.find_element(By.ID, "detail-subscribers").text,
            "the subscriber on the page",
        )
        tail = TopicTail(kafka_bootstrap, subs_topic)
        try:
            got = [decode_subscription(m.value) for m in tail.poll(5.0)]
        finally:
            tail.close()
        assert [(s.incident, s.user) for s in got] == [(wan.id, "alice")]
    finally:
        service.close()
        reader.close()
