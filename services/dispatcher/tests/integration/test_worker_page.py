"""The worker page in a real headless Chromium (Debian's), driven by Playwright.

The browser reaches the dispatcher through a TCP proxy in this test, so a network outage can be
made the way it happens: every connection cut at once and new ones refused for a while.
"""

import asyncio
import re
import shutil
from collections.abc import AsyncIterator
from typing import Any

import pytest
import redis.asyncio as redis
from playwright.async_api import Browser, Page, async_playwright, expect
from worker_clients import PURPOSE, Lab, Running

from dispatcher.adapters.redis_store import RedisTaskStore

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(shutil.which("chromium") is None, reason="needs Debian's chromium"),
]

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


class Outage:
    """A loopback TCP proxy that can drop every connection and refuse new ones."""

    def __init__(self, upstream_port: int) -> None:
        self._upstream = upstream_port
        self._writers: set[asyncio.StreamWriter] = set()
        self._down = False
        self._server: asyncio.Server | None = None
        self.port = 0

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        self.cut()
        if self._server is not None:
            self._server.close()

    def cut(self) -> None:
        self._down = True
        for writer in list(self._writers):
            writer.transport.abort()  # a reset, as when the network goes away
        self._writers.clear()

    def restore(self) -> None:
        self._down = False

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self._down:
            writer.transport.abort()
            return
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self._upstream)
        self._writers |= {writer, up_writer}
        await asyncio.gather(
            self._pipe(reader, up_writer), self._pipe(up_reader, writer), return_exceptions=True
        )

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        finally:
            self._writers.discard(writer)
            writer.transport.abort()


@pytest.fixture
def site(slow_app: Running) -> Running:
    return slow_app


@pytest.fixture
async def outage(site: Running) -> AsyncIterator[Outage]:
    proxy = Outage(site.http_port)
    await proxy.start()
    yield proxy
    await proxy.stop()


@pytest.fixture(scope="module")
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=shutil.which("chromium"), args=CHROMIUM_ARGS
        )
        yield browser
        await browser.close()


async def eventually(probe: Any, wait_s: float = 10) -> Any:
    """The first truthy answer of `probe`, polled every 0.1 s for up to `wait_s`."""
    result = None
    for _ in range(int(wait_s * 10)):
        if result := await probe():
            break
        await asyncio.sleep(0.1)
    return result


async def register_on_page(page: Page, lab: Lab) -> str:
    await page.get_by_label("Region").fill("ph")
    await page.get_by_label("Time zone").first.fill("Asia/Manila")
    await page.get_by_label("Skills").fill(lab.name)
    await page.get_by_label("When you want offers").first.fill("00:00-24:00")
    await page.get_by_role("button", name="Register").click()
    await expect(page.get_by_role("heading", name="Your token")).to_be_visible()
    token = await page.locator("#issued-token").input_value()
    await page.get_by_role("button", name="Continue").click()
    return token


async def test_a_worker_accepts_loses_the_network_comes_back_and_submits(
    site: Running, outage: Outage, browser: Browser
) -> None:
    lab = await site.lab()
    client = redis.from_url(site.settings.redis_url)
    store = RedisTaskStore(client, site.settings.redis_prefix)
    context = await browser.new_context()
    page = await context.new_page()
    await page.goto(f"http://127.0.0.1:{outage.port}/worker/")
    token = await register_on_page(page, lab)
    status = page.locator("#status")
    await expect(status).to_have_text("Connected (WebSocket)")
    worker_id = (await site.service.auth.authenticate(token)).worker_id

    task_id = await lab.submit("page-1", payload="How many cars? 🚗🚗".encode())
    offer = page.locator("#offer")
    await expect(offer).to_be_visible()
    await expect(page.locator("#offer-purpose")).to_have_text(PURPOSE)
    await expect(page.locator("#offer-price")).to_contain_text("$0.40")
    await expect(page.locator("#offer-effort")).to_have_text("about 1 min 30 s")
    await expect(page.locator("#offer-countdown")).to_have_text(re.compile(r"^[01]:\d\d$"))
    await page.get_by_role("button", name="Accept").click()
    await expect(page.locator("#task-payload")).to_have_text("How many cars? 🚗🚗")
    await page.get_by_label("Your answer").fill("two")
    await expect(page.locator("#draft-status")).to_contain_text("Draft saved")

    async def saved_draft() -> bytes | None:
        lease = await store.lease_of(worker_id)
        return lease.draft if lease is not None else None

    assert await eventually(lambda: _equals(saved_draft(), b"two"))

    outage.cut()  # the network goes away
    await expect(status).to_have_attribute("data-state", "offline")
    await expect(status).to_contain_text("Your task and draft are kept for you")
    assert await eventually(lambda: _none(site.service.dispatch.session(worker_id)))
    await page.get_by_label("Your answer").fill("two cars")  # working on while offline
    outage.restore()
    await expect(status).to_have_text("Connected (WebSocket)", timeout=20_000)
    await expect(page.locator("#task-resumed")).to_be_visible()
    await expect(page.get_by_label("Your answer")).to_have_value("two cars")
    # What was typed offline reaches the dispatcher once back.
    assert await eventually(lambda: _equals(saved_draft(), b"two cars"))

    await context.close()  # and then the laptop dies: a new browser, nothing stored locally
    context = await browser.new_context()
    page = await context.new_page()
    await page.goto(f"http://127.0.0.1:{outage.port}/worker/")
    await page.get_by_label("Your worker token").fill(token)
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.locator("#task-resumed")).to_be_visible()
    await expect(page.get_by_label("Your answer")).to_have_value("two cars")
    await page.get_by_role("button", name="Submit").click()
    await expect(page.locator("#waiting")).to_be_visible()
    await expect(page.locator("#earned-count")).to_have_text("1")
    await expect(page.locator("#earned-sum")).to_have_text("$0.40")
    status_now = await site.service.platform.get_task("lab-a", task_id)
    assert (status_now.state, status_now.worker_id) == ("submitted", worker_id)
    await context.close()
    await client.aclose()


async def test_the_page_works_over_server_sent_events(
    site: Running, outage: Outage, browser: Browser
) -> None:
    lab = await site.lab()
    token = await lab.register()
    context = await browser.new_context()
    page = await context.new_page()
    await page.goto(f"http://127.0.0.1:{outage.port}/worker/")
    await page.get_by_label("Your worker token").fill(token)
    await page.get_by_role("button", name="Sign in").click()
    await page.get_by_text("Time zone and availability").click()
    await page.get_by_label("Connection").select_option("sse")
    await page.get_by_role("button", name="Save and reconnect").click()
    await expect(page.locator("#status")).to_have_text("Connected (events)")

    await lab.submit("page-sse", payload=b"Is this a car?")
    await page.get_by_role("button", name="Accept").click()
    await expect(page.locator("#task-payload")).to_have_text("Is this a car?")
    await page.get_by_label("Your answer").fill("yes")
    await page.get_by_role("button", name="Submit").click()
    await expect(page.locator("#earned-count")).to_have_text("1")

    await lab.submit("page-sse-2")
    offer = page.locator("#offer")
    await expect(offer).to_be_visible()
    declined = await offer.get_attribute("data-offer-id")
    await page.get_by_role("button", name="Decline").click()
    # Declining costs nothing: the task may well come back, as a new offer.
    await expect(offer).not_to_have_attribute("data-offer-id", declined or "")
    await expect(page.locator("#alert")).to_be_hidden()
    await context.close()


async def _equals(value: Any, expected: object) -> bool:
    return bool(await value == expected)


async def _none(value: object) -> bool:
    return value is None
