"""Screenshot an HTML report in the system's Chromium, as the README's pictures were taken:

    pytest suites/ --edge-device=CPU,ort:cpu --edge-report-html=report.html
    python scripts/screenshot_report.py report.html docs/report.png --height 1500
    python scripts/screenshot_report.py report.html docs/report-latency.png \\
        --element 'article[data-check="latency"][data-device="CPU"]'

Needs Playwright (the test extra) and Chromium (apt-get install chromium); it downloads nothing. It fails when
the page logs a console error or leaves a plot undrawn, so a picture is never taken of a broken page."""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("page", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--width", type=int, default=1280)
    parser.add_argument("--height", type=int, default=1500, help="the part of the page from its top to keep")
    parser.add_argument("--element", help="a CSS selector: screenshot its first match instead")
    args = parser.parse_args(argv)
    chromium = next((p for n in ("chromium", "chromium-browser", "google-chrome") if (p := shutil.which(n))), None)
    if chromium is None:
        raise SystemExit("no Chromium here: apt-get install chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": args.width, "height": args.height})
        errors: list[str] = []
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(args.page.resolve().as_uri())
        page.wait_for_function("document.body.dataset.ready === 'true'", timeout=60_000)
        if errors:
            raise SystemExit(f"{args.page}: the page logged errors: {errors}")
        args.out.parent.mkdir(parents=True, exist_ok=True)
        if args.element:
            page.locator(args.element).first.screenshot(path=str(args.out))
        else:
            page.screenshot(path=str(args.out))
        browser.close()
    print(f"{args.out} ({args.out.stat().st_size / 1024:.0f} KiB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
