"""The console in a real headless Chromium against the whole running service and database: a
case agent signs in with a password and an authenticator code, registers a case and sees its
QR code; the citizen activates and answers with symptoms through the loopback Bot API server;
the case's alerts appear in the open worklist without a reload; the agent claims the case,
resolves it with a comment, reads the case and sends a broadcast that drains while the page
watches. An administrator then looks after staff and the audit log, in German.

Screenshots of every page go to the test's temporary directory (``screenshots/``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pyotp
import pytest
from selenium.common.exceptions import StaleElementReferenceException, WebDriverException
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support import expected_conditions as seen
from selenium.webdriver.support.ui import Select, WebDriverWait

from backend.services import signin
from backend.services.rounds import start_round
from tests.chromium import Screenshots, chromium
from tests.console_browser import PASSWORD
from tests.live_service import LiveService, live_service
from tests.test_end_to_end import has_button
from tests.test_escalations import answer

REGION = "de-koeln"
WAIT = 30  # seconds a page may take to show what the test waits for


@pytest.fixture(scope="module")
def live(database_url: str) -> Iterator[LiveService]:
    with live_service(database_url) as service:
        yield service


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[WebDriver]:
    with chromium(tmp_path / "profile") as driver:
        yield driver


def wait(driver: WebDriver, condition: Callable, timeout: float = WAIT):  # noqa: ANN201
    """Until ``condition`` holds. An element the page's live updates replaced while it was
    being read is looked for again: Chromium reports that as stale, or (seen in CI under
    load) as an inspector error about a node that no longer belongs to the document."""

    def tolerant(d: WebDriver):  # noqa: ANN202
        try:
            return condition(d)
        except WebDriverException as error:
            if "does not belong to the document" in str(error):
                return False
            raise

    patient = WebDriverWait(driver, timeout, ignored_exceptions=(StaleElementReferenceException,))
    return patient.until(tolerant)


def by_css(driver: WebDriver | WebElement, selector: str) -> WebElement:
    return driver.find_element(By.CSS_SELECTOR, selector)


def fill(driver: WebDriver, fields: dict[str, str]) -> None:
    for name, value in fields.items():
        element = by_css(driver, f'main [name="{name}"]')
        if element.tag_name == "select":
            Select(element).select_by_value(value)
        elif element.get_attribute("type") == "date":  # typing a date depends on the locale
            element.parent.execute_script("arguments[0].value = arguments[1]", element, value)
        else:
            element.clear()
            element.send_keys(value)


def click(driver: WebDriver, selector: str) -> None:
    """Find and click as one step, again if the element went stale in between: under load the
    page a redirect or a live update brings can replace it after it was found (CI, two suites
    side by side, 2026-12-07)."""
    patient = WebDriverWait(driver, WAIT, ignored_exceptions=(StaleElementReferenceException,))
    patient.until(lambda d: by_css(d, selector).click() or True)


def choose(driver: WebDriver, selector: str, value: str) -> None:
    """Select an option of a ``<select>``, as ``click`` does: found and used in one step."""
    patient = WebDriverWait(driver, WAIT, ignored_exceptions=(StaleElementReferenceException,))
    patient.until(lambda d: Select(by_css(d, selector)).select_by_value(value) or True)


def submit(driver: WebDriver, form: str = "main form") -> None:
    click(driver, f"{form} button[type=submit]")


def text_of(driver: WebDriver) -> str:
    return by_css(driver, "body").text


def now() -> datetime:
    """The clock the service itself uses here (the live service runs on the system clock,
    shifted with everything else under ``make test-dates``)."""
    return datetime.now(UTC)


def set_up_account(driver: WebDriver, base: str, login: str, temporary: str, shots: Screenshots):
    """The first sign-in: temporary password, then one's own and the authenticator."""
    driver.get(f"{base}/console/")
    wait(driver, seen.url_contains("/console/sign-in"))
    shots.take(f"sign-in-{login}")
    fill(driver, {"login": login, "password": temporary})
    submit(driver)
    wait(driver, seen.url_contains("/console/setup"))
    secret = by_css(driver, "code.secret").text.replace(" ", "")
    assert by_css(driver, "img.qr").get_attribute("src").startswith("data:image/svg+xml")
    totp = pyotp.TOTP(secret)
    fill(driver, {"new_password": PASSWORD, "repeat_password": PASSWORD})
    fill(driver, {"code": totp.at(now())})
    shots.take(f"setup-{login}")
    submit(driver)
    wait(driver, seen.url_matches(r"/console/$"))
    return totp


@pytest.fixture
def page_on_failure(browser: WebDriver, tmp_path: Path, request: pytest.FixtureRequest):
    """The page's HTML next to the screenshots when a test fails, to see why."""
    yield
    report = getattr(request.node, "rep_call", None)
    if report is None or report.failed:
        (tmp_path / "last-page.html").write_text(browser.page_source)


def test_a_case_agent_works_an_alert_and_a_broadcast_without_a_terminal(
    live: LiveService, browser: WebDriver, tmp_path: Path, page_on_failure: None
) -> None:
    shots = Screenshots(browser, tmp_path / "screenshots")
    base = live.base_url
    _, temporary = live.run(
        signin.create_member(live.ctx, "Erika Muster", "staff", [REGION], "erika", None)
    )
    set_up_account(browser, base, "erika", temporary, shots)
    assert "Worklist" in text_of(browser) and "Erika Muster" in text_of(browser)

    # Register a case: the handover sheet with its QR code.
    click(browser, 'header nav a[href="/console/cases/new"]')
    wait(browser, seen.url_contains("/console/cases/new"))
    region = live.ctx.regions.require(REGION)
    today = region.local_date(now())
    fill(
        browser,
        {
            "quarantine_start": today.isoformat(),
            "quarantine_end": (today + timedelta(days=13)).isoformat(),
            "language": "en",
            "staff_reference": "K-2026-0815",
        },
    )
    shots.take("register")
    submit(browser)
    wait(browser, seen.presence_of_element_located((By.CSS_SELECTOR, "article.sheet")))
    qr = by_css(browser, "article.sheet img.qr")
    assert qr.get_attribute("src").startswith("data:image/svg+xml") and qr.size["width"] >= 200
    assert "Your daily symptom diary" in by_css(browser, "article.sheet").text
    link = by_css(browser, "#deep-link").get_attribute("href")
    shots.take("handover-sheet")
    code = parse_qs(urlsplit(link).query)["start"][0]

    # The citizen activates through the loopback Bot API server.
    citizen = live.sandbox.user(6001, "Ayşe", "en")
    live.run(citizen.send_command("start", code))
    assert "Gesundheitsamt der Stadt Köln" in live.run(citizen.wait_for_message())["text"]

    # The worklist is open when the answer comes in: the alert appears without a reload.
    browser.get(f"{base}/console/")
    wait(browser, seen.presence_of_element_located((By.ID, "worklist")))
    assert "Nothing to do" in text_of(browser)
    browser.execute_script("document.body.dataset.loadedOnce = 'yes'")  # gone after a reload
    shots.take("worklist-empty")
    live.run(start_round(live.ctx, REGION, origin="staff"))
    live.run(answer(citizen, "39.8", ("Cough", "Short of breath at rest")), timeout=90)
    row = wait(browser, seen.presence_of_element_located((By.CSS_SELECTOR, "tr.new")))
    assert browser.execute_script("return document.body.dataset.loadedOnce") == "yes"
    assert "K-2026-0815" in text_of(browser) and "Red flag" in text_of(browser)
    rows = browser.find_elements(By.CSS_SELECTOR, "#worklist tbody tr[data-id]")
    # One row for the case, with an alert per rule crossed (red flag, temperature,
    # symptomatic, first symptom), as severe as its most pressing one.
    assert len(rows) == 1 and "new" in rows[0].get_attribute("class")
    assert len(rows[0].get_attribute("data-alerts").split()) == 4
    assert "4 new since you opened this page" in by_css(browser, "#live-status").text
    assert "urgent" in rows[0].get_attribute("class")
    assert rows[0].text.index("Red flag") < rows[0].text.index("Temperature")
    shots.take("worklist-new-alerts")

    # Claim the case (all its alerts at once), then resolve it with a comment.
    first = rows[0].get_attribute("data-id")
    click(browser, f'tr[data-id="{first}"] form[action$="/claim"] button')
    wait(browser, seen.text_to_be_present_in_element((By.CSS_SELECTOR, ".notice"), "claimed"))
    row = by_css(browser, f'tr[data-id="{first}"]')
    assert "Claimed by Erika Muster" in row.text
    by_css(row, "details.resolve summary").click()
    by_css(row, "textarea[name=comment]").send_keys("Called: ambulance sent at 10:40.")
    shots.take("worklist-claimed")
    by_css(row, "details.resolve button[type=submit]").click()
    wait(browser, seen.text_to_be_present_in_element((By.CSS_SELECTOR, ".notice"), "resolved"))
    assert not browser.find_elements(By.CSS_SELECTOR, f'tr[data-id="{first}"]')
    Select(by_css(browser, "select[name=status]")).select_by_value("resolved")
    submit(browser, "form.filters")
    wait(browser, seen.text_to_be_present_in_element((By.ID, "worklist"), "ambulance sent"))
    assert "Resolved by Erika Muster" in text_of(browser)
    shots.take("worklist-resolved")

    # The case page: the diary, the chart, the alert history.
    click(browser, "#worklist tbody a")
    wait(browser, seen.presence_of_element_located((By.CSS_SELECTOR, "svg.chart")))
    case_page = urlsplit(browser.current_url).path
    assert browser.find_elements(By.CSS_SELECTOR, "svg.chart circle.value.over")
    diary = by_css(browser, "table.diary").text
    assert "39.8 °C" in diary and "Short of breath at rest" in diary
    assert by_css(browser, "table.alerts").text.count("ambulance sent") == 4
    shots.take("case-page")
    # Its alerts resolved, the case has left the symptomatic line list for the reporting one.
    browser.get(f"{base}/console/cases?list=symptomatic")
    assert "K-2026-0815" not in by_css(browser, "table.cases").text
    browser.get(f"{base}/console/cases?list=reporting")
    assert "K-2026-0815" in by_css(browser, "table.cases").text
    shots.take("line-list-reporting")

    # A broadcast with a live count of recipients, confirmed, watched as it drains.
    browser.get(f"{base}/console/broadcasts")
    wait(browser, seen.text_to_be_present_in_element((By.ID, "recipient-count"), "1"))
    fill(
        browser,
        {
            "text_de": "Bitte messen Sie heute zweimal Fieber.",
            "text_en": "Please take your temperature twice today.",
        },
    )
    shots.take("broadcast-compose")
    submit(browser, "form.broadcast-form")
    wait(browser, seen.text_to_be_present_in_element((By.CSS_SELECTOR, "p.big"), "1 person"))
    shots.take("broadcast-confirm")
    submit(browser)
    wait(browser, seen.text_to_be_present_in_element((By.ID, "broadcast-state"), "Done."))
    assert by_css(browser, '[data-count="sent"]').text == "1"
    message = live.run(citizen.wait_for_message(lambda m: "twice today" in m.get("text", "")))
    assert not has_button("well")(message)
    shots.take("broadcast-done")

    # On a tablet (portrait): the page fits its width; wide tables scroll inside themselves.
    browser.set_window_size(820, 1180)
    tablet = [("/console/?status=resolved", "tablet-worklist"), (case_page, "tablet-case")]
    for path, name in tablet:
        browser.get(f"{base}{path}")
        wait(browser, seen.presence_of_element_located((By.TAG_NAME, "main")))
        fits = "return document.documentElement.scrollWidth <= window.innerWidth"
        assert browser.execute_script(fits), name
        shots.take(name)


def test_an_administrator_manages_staff_and_reads_the_audit_log_in_german(
    live: LiveService, browser: WebDriver, tmp_path: Path
) -> None:
    shots = Screenshots(browser, tmp_path / "screenshots")
    base = live.base_url
    _, temporary = live.run(signin.create_member(live.ctx, "Ada Admin", "admin", [], "ada", None))
    set_up_account(browser, base, "ada", temporary, shots)
    click(browser, 'button[name=language][value="de"]')
    wait(browser, seen.text_to_be_present_in_element((By.CSS_SELECTOR, "h1"), "Arbeitsliste"))
    shots.take("worklist-german")

    browser.get(f"{base}/console/admin/staff")
    fill(browser, {"name": "Vera Viewer", "login": "vera", "role": "viewer"})
    click(browser, f'input[name=regions][value="{REGION}"]')
    shots.take("admin-staff")
    click(browser, "form[action$='/admin/staff'] button[type=submit]")
    wait(browser, seen.presence_of_element_located((By.ID, "new-password")))
    assert by_css(browser, "#new-login").text == "vera"
    shots.take("admin-new-member")

    # Vera moves to the case agents: role changed in place on her page.
    browser.get(f"{base}/console/admin/staff")
    by_css(browser, "main table").find_element(By.LINK_TEXT, "Vera Viewer").click()
    wait(browser, seen.presence_of_element_located((By.CSS_SELECTOR, "form.access-form")))
    choose(browser, "form.access-form select[name=role]", "staff")
    submit(browser, "form.access-form")
    wait(browser, seen.text_to_be_present_in_element((By.CSS_SELECTOR, ".notice"), "geändert"))
    assert "Sachbearbeitung" in by_css(browser, "section.facts dl").text  # the case agents
    shots.take("admin-member")

    browser.get(f"{base}/console/admin/audit?action=staff.create")
    wait(browser, seen.presence_of_element_located((By.CSS_SELECTOR, "table.audit")))
    assert "staff.create" in by_css(browser, "table.audit").text
    shots.take("admin-audit")
    browser.get(f"{base}/console/cases")
    shots.take("cases-admin-german")
