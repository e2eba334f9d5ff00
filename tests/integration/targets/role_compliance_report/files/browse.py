#!/usr/bin/env python
# Private to this test: open a compliance report in headless Chromium (Selenium, Debian's
# chromedriver, no network) at 1,280 px and report what a person sees, as JSON: the summary numbers,
# the time the page took to load and render, what the filter box shows for typed queries, whether a
# column sorts, whether anything is wider than the window (also with every folded table open), and
# a screenshot.
from __future__ import annotations

import json
import os
import sys
import time

os.environ.setdefault('SE_AVOID_STATS', 'true')

from selenium import webdriver  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

# checkVisibility: not hidden by the filter, and not inside a folded (closed) <details>
VISIBLE_ROWS = "return Array.prototype.filter.call(document.querySelectorAll('tr.row'), r => r.checkVisibility()).length"
OVERFLOW = """
const width = document.documentElement.clientWidth;
const wide = [];
for (const element of document.querySelectorAll('body *')) {
  const box = element.getBoundingClientRect();
  if (box.width > 0 && box.right > width + 1) { wide.push(element.tagName + (element.id ? '#' + element.id : '')); }
}
return {window: window.innerWidth, client: width, scroll: document.documentElement.scrollWidth, wide: wide.slice(0, 5)};
"""


def main():
    html, screenshot, profile = sys.argv[1], sys.argv[2], sys.argv[3]
    queries = json.loads(sys.argv[4]) if len(sys.argv) > 4 else []
    options = webdriver.ChromeOptions()
    options.binary_location = '/usr/bin/chromium'
    for flag in ('--headless=new', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
                 '--disable-background-networking', '--disable-component-update', '--disable-sync',
                 '--hide-scrollbars', '--window-size=1280,1000', '--user-data-dir=' + profile):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service('/usr/bin/chromedriver'), options=options)
    try:
        driver.set_page_load_timeout(120)
        started = time.monotonic()
        driver.get('file://' + html)
        WebDriverWait(driver, 60).until(lambda d: d.execute_script('return document.readyState') == 'complete')
        # a frame after load: laid out and painted
        driver.execute_async_script('const done = arguments[arguments.length - 1]; requestAnimationFrame(() => setTimeout(done, 0));')
        wall = time.monotonic() - started
        timing = driver.execute_script(
            'const t = performance.getEntriesByType("navigation")[0];'
            'return {dom_content_loaded: t.domContentLoadedEventEnd, load: t.loadEventEnd};')
        counts = dict((element.get_attribute('data-status'), int(element.find_element(By.CSS_SELECTOR, '.n').text))
                      for element in driver.find_elements(By.CSS_SELECTOR, '#counts .count'))
        first_screen = driver.execute_script(
            'return {findings_top: document.getElementById("findings").getBoundingClientRect().top,'
            ' counts_top: document.getElementById("counts").getBoundingClientRect().top,'
            ' visible_rows: ' + VISIBLE_ROWS[7:] + ','
            ' rows: document.querySelectorAll("tr.row").length,'
            ' folded: document.querySelectorAll("details.compliant-rows:not([open])").length};')
        overflow = driver.execute_script(OVERFLOW)
        driver.save_screenshot(screenshot)
        filter_box = driver.find_element(By.ID, 'filter')
        typed = []
        for query in queries:
            filter_box.clear()
            filter_box.send_keys(query)
            WebDriverWait(driver, 10).until(lambda d: d.find_element(By.ID, 'match-count').get_attribute('data-query') == query)
            typed.append({'query': query, 'visible_rows': driver.execute_script(VISIBLE_ROWS),
                          'match_count': driver.find_element(By.ID, 'match-count').text})
        filter_box.clear()
        filter_box.send_keys(' ')
        filter_box.clear()
        time.sleep(0.3)
        # sort the ESXi table by its last column (the offset after the run), both ways
        heading = driver.find_elements(By.CSS_SELECTOR, '#rows-esxi_time thead th')[-1]
        driver.execute_script('arguments[0].scrollIntoView({block: "center"})', heading)
        heading.click()
        ascending = driver.execute_script('return document.querySelector("#rows-esxi_time tbody tr td:last-child").getAttribute("data-v")')
        heading.click()
        descending = driver.execute_script('return document.querySelector("#rows-esxi_time tbody tr td:last-child").getAttribute("data-v")')
        driver.execute_script('document.querySelectorAll("details").forEach(d => d.open = true)')
        overflow_open = driver.execute_script(OVERFLOW)
        print(json.dumps({
            'size_bytes': os.path.getsize(html),
            'seconds_to_rendered': round(wall, 3),
            'dom_content_loaded_ms': round(timing['dom_content_loaded']),
            'load_ms': round(timing['load']),
            'counts': counts,
            'first_screen': first_screen,
            'overflow': overflow,
            'overflow_all_open': overflow_open,
            'typed': typed,
            'sorted_offsets': [float(ascending), float(descending)],
        }))
    finally:
        driver.quit()


if __name__ == '__main__':
    main()
