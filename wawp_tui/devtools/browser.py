"""Debian's chromium, headless, through its own chromedriver (Selenium; no browser is
downloaded): the wall page's tests and its screenshot in screenshots/ (showcase) drive it.
Selenium is a test extra: imported when a browser is started."""

from __future__ import annotations

import shutil
from typing import Any

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
#: Headless, and nothing the browser would fetch on its own (updates, field trials).
FLAGS = ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
         "--disable-background-networking", "--disable-extensions", "--disable-component-update",
         "--no-first-run")


class Browser:
    """A headless chromium (Debian's, through its chromedriver); `quit()` when done."""

    def __init__(self, width: int = 1280, height: int = 800) -> None:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service

        options = webdriver.ChromeOptions()
        options.binary_location = CHROMIUM
        for flag in (*FLAGS, f"--window-size={width},{height}"):
            options.add_argument(flag)
        options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
        self.driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
        self.driver.set_page_load_timeout(30)

    def open(self, url: str) -> None:
        self.driver.get(url)

    def script(self, code: str) -> Any:
        """Run `code` in the page; None while the page is being replaced (a reload)."""
        from selenium.common.exceptions import WebDriverException

        try:
            return self.driver.execute_script(code)
        except WebDriverException:
            return None

    def body_classes(self) -> set[str]:
        return set((self.script("return document.body ? document.body.className : ''") or "").split())

    def text(self) -> str:
        return self.script("return document.body ? document.body.innerText : ''") or ""

    def screenshot(self) -> bytes:
        return self.driver.get_screenshot_as_png()

    def console(self) -> list[str]:
        return [entry.get("message", "") for entry in self.driver.get_log("browser")]

    def quit(self) -> None:
        self.driver.quit()
