"""Real-browser helpers: Debian's headless Chromium driven by Playwright, as a person sees pages.

No browser is downloaded (`make browser` installs Debian's chromium; never `playwright
install`). Chromium starts with a fresh profile and without its background networking:
this machine has no network, and Chromium's own calls home would fail noisily.
The page helpers take a base URL, so the same checks run against any `dagster dev` (the
browser UI test's, the full demo's) and any dbt docs server; each saves a screenshot under
test-artifacts/ and returns the text a person would read.
"""

from __future__ import annotations

import contextlib
import re
import shutil
import tempfile
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from playwright.sync_api import BrowserContext, Locator, Page, sync_playwright
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

from cryptoviz_assets.settings import PROJECT_ROOT

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = PROJECT_ROOT / "test-artifacts"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
VIEWPORT = {"width": 1600, "height": 1000}
PAGE_TIMEOUT_MS = 60_000


def chromium_available() -> bool:
    return CHROMIUM.exists() or shutil.which("chromium") is not None


@contextmanager
def browser() -> Iterator[BrowserContext]:
    """A headless Chromium with a fresh, throw-away profile; closed (and its files removed)."""
    executable = str(CHROMIUM) if CHROMIUM.exists() else shutil.which("chromium")
    if executable is None:
        raise RuntimeError("chromium is not installed: run `make browser`")
    with (
        tempfile.TemporaryDirectory(prefix="cryptoviz-chromium-") as profile,
        sync_playwright() as playwright,
    ):
        context = playwright.chromium.launch_persistent_context(
            profile,
            executable_path=executable,
            headless=True,
            args=CHROMIUM_ARGS,
            viewport=VIEWPORT,  # type: ignore[arg-type]
        )
        context.set_default_timeout(PAGE_TIMEOUT_MS)
        try:
            yield context
        finally:
            context.close()


def wait_for_text(page: Page, *texts: str, timeout_ms: int = PAGE_TIMEOUT_MS) -> None:
    """Wait until each text is visible somewhere on the page (not just in the DOM)."""
    for text in texts:
        match = page.get_by_text(text, exact=False).filter(visible=True).first
        match.wait_for(state="visible", timeout=timeout_ms)


def screenshot(page: Page, name: str, *, full_page: bool = False) -> Path:
    """Save what the page shows as test-artifacts/<name>.png."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{re.sub(r'[^A-Za-z0-9_.-]+', '_', name)}.png"
    page.screenshot(path=str(path), full_page=full_page)
    return path


def visible_text(page: Page) -> str:
    return page.locator("body").inner_text()


def settle(page: Page, timeout_ms: int = 15_000) -> None:
    """Give the page time to finish loading (best effort: some pages poll forever)."""
    with contextlib.suppress(PlaywrightTimeoutError):
        page.wait_for_load_state("networkidle", timeout=timeout_ms)


def show(
    context: BrowserContext,
    url: str,
    name: str,
    expect: Iterable[str],
    *,
    full_page: bool = False,
    prepare: Callable[[Page], None] | None = None,
) -> tuple[Page, str]:
    """Open `url`, wait for the texts a person should see, screenshot it; (page, text).

    `prepare` runs once the texts are there (dismiss a dialog, wait for a spinner). The
    screenshot is taken even when a text never shows up, so a failure can be looked at.
    """
    page = context.new_page()
    page.goto(url, wait_until="domcontentloaded")
    try:
        wait_for_text(page, *expect)
        settle(page)
        if prepare is not None:
            prepare(page)
    finally:
        screenshot(page, name, full_page=full_page)
    return page, visible_text(page)


# --- Dagster UI ----------------------------------------------------------------------
def dagster_ready(page: Page) -> None:
    """Skip the "Join the Dagster community" dialog a fresh browser profile gets, and wait
    for the asset statuses the graph fetches after drawing it."""
    dialog = page.get_by_text("Join the Dagster community")
    with contextlib.suppress(PlaywrightTimeoutError):
        dialog.wait_for(state="visible", timeout=3_000)
    if dialog.is_visible():
        page.get_by_role("button", name="Skip").click()
        dialog.wait_for(state="hidden")
    with contextlib.suppress(PlaywrightTimeoutError):
        page.get_by_text("fetching statuses").first.wait_for(state="hidden", timeout=30_000)
    settle(page, 5_000)


def dagster_asset_graph(
    context: BrowserContext, base_url: str, expect: Iterable[str], name: str = "dagster-graph"
) -> str:
    """The global asset lineage graph (groups drawn as boxes); the text it shows."""
    url = f"{base_url.rstrip('/')}/asset-groups"
    _, text = show(context, url, name, expect, prepare=dagster_ready)
    return text


def dagster_asset_group(
    context: BrowserContext,
    base_url: str,
    location: str,
    group: str,
    expect: Iterable[str],
    *,
    view: str = "lineage",
) -> str:
    """One asset group: its lineage graph, where asset names are readable, or its list.

    The graph draws only the nodes inside the viewport, so a whole group's membership is
    read from the "list" view.
    """
    url = f"{base_url.rstrip('/')}/locations/{location}/asset-groups/{group}/{view}"
    name = f"dagster-group-{group}-{view}"
    _, text = show(context, url, name, expect, prepare=dagster_ready)
    return text


def dagster_asset_page(
    context: BrowserContext,
    base_url: str,
    key: Iterable[str],
    expect: Iterable[str],
    *,
    full_page: bool = True,
) -> str:
    """An asset's overview page (description, metadata of its latest materialization)."""
    path = "/".join(key)
    _, text = show(
        context,
        f"{base_url.rstrip('/')}/assets/{path}",
        f"dagster-asset-{path}",
        expect,
        full_page=full_page,
        prepare=dagster_ready,
    )
    return text


def dagster_markdown_metadata(page: Page, key: str, name: str) -> Locator:
    """Open a long markdown metadata value (the UI folds it behind "[Show Markdown]") as a
    person would, screenshot the dialog, and return it (close it with Escape)."""
    row = page.locator("tr", has=page.get_by_text(key, exact=True))
    row.get_by_text("Show Markdown").click()
    dialog = page.get_by_role("dialog").last
    dialog.wait_for(state="visible")
    settle(page, 5_000)
    page.wait_for_timeout(1_000)  # the dialog fades in
    screenshot(page, name)
    return dialog


# --- dbt docs ------------------------------------------------------------------------
def dbt_docs(
    context: BrowserContext, base_url: str, expect: Iterable[str], model: str | None = None
) -> str:
    """The dbt docs site: its overview, or one model's page (`model` = dbt unique id)."""
    url = base_url.rstrip("/") + "/#!/overview"
    name = "dbt-docs"
    if model is not None:
        url = f"{base_url.rstrip('/')}/#!/model/{model}"
        name = f"dbt-docs-{model}"
    _, text = show(context, url, name, expect)
    return text
