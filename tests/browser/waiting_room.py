#!/usr/bin/python3
"""The waiting-room page in a real browser: headless Chromium from Debian, driven by Selenium
through Debian's chromedriver. Run by tests/api/virtual_queue/browser.rs, which serves the API,
draws the queue and admits people while this watches.

    waiting_room.py PAGE_URL SHOP_URL_PREFIX [SCREENSHOT.png]

Prints, one per line: `pre-queue` once the page shows the pre-queue (the test then opens the
sale), `position N` each time the page shows a new position, `arrived URL` when the browser is at
the shop. Exits 0 then; 1 with the reason on stderr if the page does not get there in time.
"""

import sys
import time

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By

TIMEOUT_SECONDS = 90


def say(line):
    print(line, flush=True)


def fail(reason, driver):
    sys.stderr.write(f"{reason}\nthe page was at {driver.current_url}:\n{driver.page_source[:4000]}\n")
    driver.quit()
    sys.exit(1)


def shown(driver, state):
    sections = driver.find_elements(By.CSS_SELECTOR, f'section[data-state="{state}"]')
    return bool(sections) and sections[0].is_displayed()


def main():
    page, shop, screenshot = sys.argv[1], sys.argv[2], (sys.argv[3] if len(sys.argv) > 3 else None)
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                "--window-size=900,700"):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
    driver.get(page)
    deadline = time.monotonic() + TIMEOUT_SECONDS

    # what an assistive technology needs: a language, a heading, the position in a live region
    if driver.find_element(By.TAG_NAME, "html").get_attribute("lang") != "en":
        fail("the page has no language", driver)
    if not driver.find_element(By.TAG_NAME, "h1").text.strip():
        fail("the page has no heading", driver)
    live = driver.find_elements(By.CSS_SELECTOR, '[role="status"][aria-live="polite"] .position')
    if not live:
        fail("the position is not in a live region", driver)

    while not shown(driver, "pre-queue"):
        if time.monotonic() > deadline:
            fail("the pre-queue was never shown", driver)
        time.sleep(0.05)
    say("pre-queue")

    last = None
    while not driver.current_url.startswith(shop):
        if time.monotonic() > deadline:
            fail("the browser never arrived at the shop", driver)
        try:
            if shown(driver, "waiting"):
                position = driver.find_element(By.CSS_SELECTOR, "section[data-state=waiting] .position").text
                if position and position != last:
                    say(f"position {position}")
                    if screenshot and last is None:
                        driver.save_screenshot(screenshot)
                    last = position
        except Exception:  # the page went on to the shop between two looks
            pass
        time.sleep(0.05)
    say(f"arrived {driver.current_url}")
    driver.quit()


if __name__ == "__main__":
    main()
