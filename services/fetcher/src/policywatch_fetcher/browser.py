"""Browser pool: one Chromium, N concurrent pages, a fresh context per capture.

Heavy resources (images, media, fonts) are blocked; every request of the page goes
through the address guard; navigation and selector waits are bounded.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from typing import Any

from policywatch_shared.events import CaptureOutcome

from policywatch_fetcher.guard import AddressGuard, AddressRefused
from policywatch_fetcher.http_capture import KEPT_HEADERS, HttpResult

log = logging.getLogger(__name__)

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-dev-shm-usage",
]
BLOCKED_RESOURCES = {"image", "media", "font"}


@dataclass
class BrowserOptions:
    user_agent: str
    locale: str = "en-US"
    executable: str = "/usr/bin/chromium"
    pages: int = 4
    nav_timeout_s: float = 30.0
    wait_timeout_s: float = 10.0
    settle_ms: int = 500
    max_bytes: int = 10 * 1024 * 1024


class BrowserUnavailable(RuntimeError):
    pass


class BrowserPool:
    def __init__(self, opts: BrowserOptions, guard: AddressGuard) -> None:
        self.opts = opts
        self.guard = guard
        self._sem = asyncio.Semaphore(max(1, opts.pages))
        self._lock = asyncio.Lock()
        self._pw: Any = None
        self._browser: Any = None

    async def start(self) -> None:
        async with self._lock:
            if self._browser is not None and self._browser.is_connected():
                return
            try:
                from playwright.async_api import async_playwright

                if self._pw is None:
                    self._pw = await async_playwright().start()
                self._browser = await self._pw.chromium.launch(
                    executable_path=self.opts.executable, args=CHROMIUM_ARGS, headless=True
                )
            except Exception as exc:
                raise BrowserUnavailable(f"cannot start Chromium: {exc}") from exc

    async def close(self) -> None:
        async with self._lock:
            if self._browser is not None:
                try:
                    await self._browser.close()
                except Exception:  # already gone
                    pass
                self._browser = None
            if self._pw is not None:
                await self._pw.stop()
                self._pw = None

    async def _new_context(self) -> Any:
        """A fresh context; a crashed or closed browser is relaunched once."""
        for attempt in (1, 2):
            await self.start()
            try:
                return await self._browser.new_context(
                    user_agent=self.opts.user_agent,
                    locale=self.opts.locale,  # Accept-Language and navigator.language
                    java_script_enabled=True,
                    service_workers="block",
                )
            except Exception as exc:
                if attempt == 2:
                    raise BrowserUnavailable(f"cannot open a browser context: {exc}") from exc
                log.warning("browser context failed (%s); relaunching Chromium", exc)
                async with self._lock:
                    self._browser = None
        raise AssertionError("unreachable")

    async def _route(self, route: Any) -> None:
        request = route.request
        if request.resource_type in BLOCKED_RESOURCES:
            await route.abort("blockedbyclient")
            return
        try:
            await self.guard.check(request.url)
        except AddressRefused:
            await route.abort("addressunreachable")
            return
        await route.continue_()

    async def capture(
        self, url: str, *, wait_for: str | None = None, screenshot: bool = False
    ) -> tuple[HttpResult, bytes | None]:
        """Render ``url``; returns the result (body = rendered HTML, UTF-8) and an optional PNG."""
        from playwright.async_api import Error as PlaywrightError
        from playwright.async_api import TimeoutError as PlaywrightTimeout

        started = time.monotonic()
        try:
            await self.guard.check(url)
        except AddressRefused as exc:
            return HttpResult(url, CaptureOutcome.NETWORK_ERROR, error=str(exc)), None
        async with self._sem:
            context = await self._new_context()
            try:
                context.set_default_timeout(self.opts.wait_timeout_s * 1000)
                await context.route("**/*", self._route)
                page = await context.new_page()
                shot: bytes | None = None
                resp = None
                stage = "navigation"
                try:
                    resp = await page.goto(url, timeout=self.opts.nav_timeout_s * 1000, wait_until="load")
                    stage = "wait"
                    if wait_for:
                        await page.wait_for_selector(wait_for, timeout=self.opts.wait_timeout_s * 1000)
                    else:
                        try:
                            await page.wait_for_load_state(
                                "networkidle", timeout=self.opts.wait_timeout_s * 1000
                            )
                        except PlaywrightTimeout:
                            pass  # busy pages (analytics beacons) never go idle: take what we have
                    if self.opts.settle_ms:
                        await page.wait_for_timeout(self.opts.settle_ms)
                    html = await page.content()
                    if screenshot:
                        shot = await page.screenshot(full_page=True, type="png")
                except PlaywrightTimeout as exc:
                    waited = stage == "wait" and wait_for
                    what = f"selector {wait_for!r} not found" if waited else "navigation timed out"
                    partial: bytes | None = None
                    if waited:  # what the page shows instead (a wall? an error page?) is judged too
                        try:
                            partial = (await asyncio.wait_for(page.content(), 5)).encode("utf-8")
                        except Exception:
                            partial = None
                    return HttpResult(
                        url,
                        CaptureOutcome.TIMEOUT,
                        page.url,
                        resp.status if resp is not None else None,
                        {"content-type": "text/html; charset=utf-8"} if partial else {},
                        partial,
                        error=f"{what}: {exc.message[:200]}",
                        elapsed_ms=_ms(started),
                    ), None
                except PlaywrightError as exc:
                    msg = exc.message.split("\n", 1)[0][:300]
                    outcome = CaptureOutcome.HTTP_ERROR if "REDIRECT" in msg else CaptureOutcome.NETWORK_ERROR
                    if "ERR_TIMED_OUT" in msg:
                        outcome = CaptureOutcome.TIMEOUT
                    return HttpResult(url, outcome, page.url, error=msg, elapsed_ms=_ms(started)), None
                status = resp.status if resp is not None else None
                headers = {}
                if resp is not None:
                    raw = await resp.all_headers()
                    headers = {k.lower(): v for k, v in raw.items() if k.lower() in KEPT_HEADERS}
                headers["content-type"] = "text/html; charset=utf-8"  # page.content() is serialised DOM
                body = html.encode("utf-8")
                result = HttpResult(
                    url, CaptureOutcome.OK, page.url, status, headers, body, elapsed_ms=_ms(started)
                )
                if len(body) > self.opts.max_bytes:
                    result.outcome = CaptureOutcome.TOO_LARGE
                    result.error = f"rendered page larger than limit {self.opts.max_bytes} bytes"
                    result.body = None
                elif status is not None and status >= 400:
                    result.outcome = CaptureOutcome.HTTP_ERROR
                    result.error = f"HTTP {status}"
                return result, shot
            finally:
                await context.close()


def _ms(started: float) -> float:
    return round((time.monotonic() - started) * 1000, 1)
