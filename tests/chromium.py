"""A real headless Chromium for console tests: Debian's chromium and chromium-driver
(installed when missing, as root), driven by selenium, screenshots saved as the test goes."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from selenium import webdriver
from selenium.webdriver.chrome.service import Service

from tests import debian
from tests.dates import clock_environment

PACKAGES = {k: v for k, v in debian.NEEDS["test"].items() if k.startswith("chromium")}


@dataclass
class Screenshots:
    """Numbered PNGs of what the browser showed, to look at after the run."""

    driver: webdriver.Chrome
    directory: Path
    taken: list[Path] = field(default_factory=list)

    def take(self, name: str) -> Path:
        self.directory.mkdir(parents=True, exist_ok=True)
        # The whole page, not only the window: the height the document needs.
        height = self.driver.execute_script("return document.documentElement.scrollHeight")
        size = self.driver.get_window_size()
        self.driver.set_window_size(
            size["width"], max(size["height"], min(int(height) + 120, 4000))
        )
        path = self.directory / f"{len(self.taken) + 1:02d}-{name}.png"
        self.driver.save_screenshot(str(path))
        self.driver.set_window_size(size["width"], size["height"])
        self.taken.append(path)
        return path


@contextmanager
def chromium(profile: Path, width: int = 1366) -> Iterator[webdriver.Chrome]:
    debian.ensure_packages(PACKAGES, "the console's browser tests")
    options = webdriver.ChromeOptions()
    options.binary_location = PACKAGES["chromium"]
    for flag in (
        "--headless=new",
        "--no-sandbox",  # as root, in a container
        "--disable-gpu",
        "--disable-dev-shm-usage",
        # This machine has no network but loopback: nothing may try to reach out.
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-quic",
        "--no-first-run",
        "--disable-features=Translate,OptimizationHints,MediaRouter",
        f"--user-data-dir={profile}",
        f"--window-size={width},900",
        "--lang=en-GB",
    ):
        options.add_argument(flag)
    # The driver is Debian's: selenium must not look for (or download) another.
    service = Service(PACKAGES["chromium-driver"], env=os.environ | clock_environment())
    driver = webdriver.Chrome(options=options, service=service)
    driver.set_page_load_timeout(60)
    try:
        yield driver
    finally:
        driver.quit()
