"""A real browser for the HTML report's tests: the system's Chromium (Debian/Ubuntu: apt-get install chromium),
driven by Playwright (which downloads nothing when given the browser's path). Without Chromium the tests
that need it skip, saying how to install it; under CI (CI set) they fail instead, since .ci/run installs it."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


def chromium_path() -> str | None:
    return os.environ.get("EDGEQA_CHROMIUM") or next((p for n in CANDIDATES if (p := shutil.which(n))), None)


@dataclass
class Loaded:
    """A page as Chromium loaded it, with every console error, warning and uncaught exception it raised."""

    page: Any
    errors: list[str] = field(default_factory=list)

    def rendered_plots(self) -> tuple[int, int, int]:
        """(plots on the page, plots marked drawn, plots whose SVG holds a drawn trace)."""
        return self.page.evaluate(
            """() => {
                const plots = document.querySelectorAll("div.plot[data-plot]");
                const drawn = document.querySelectorAll("div.plot[data-rendered=true]");
                const svg = Array.from(plots).filter(p => p.querySelector("svg.main-svg g.trace"));
                return [plots.length, drawn.length, svg.length];
            }"""
        )


@pytest.fixture(scope="session")
def chromium() -> Iterator[Any]:
    path = chromium_path()
    if path is None:
        message = (
            "needs Chromium for the HTML report's browser tests: apt-get install chromium (or set EDGEQA_CHROMIUM)"
        )
        if os.environ.get("CI"):
            pytest.fail(f"{message}; .ci/run installs it, so under CI its absence is a failure")
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=path, args=["--no-sandbox"])
        yield browser
        browser.close()


def load(browser: Any, path: Path, ready: str = "document.body.dataset.ready === 'true'") -> Loaded:
    """Open ``path`` in a fresh page and wait until ``ready`` holds (the report: every plot drawn)."""
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    loaded = Loaded(page)
    page.on(
        "console",
        lambda m: loaded.errors.append(f"console {m.type}: {m.text}") if m.type in ("error", "warning") else None,
    )
    page.on("pageerror", lambda e: loaded.errors.append(f"uncaught: {e}"))
    page.on("requestfailed", lambda r: loaded.errors.append(f"request failed: {r.url}"))
    page.on("request", lambda r: None if r.url.startswith(("file:", "data:", "blob:", "about:")) else loaded.errors.append(f"network: {r.url}"))  # fmt: skip
    page.goto(path.resolve().as_uri())
    page.wait_for_function(ready, timeout=60_000)
    return loaded
