"""Open a page in headless Chromium and look at it through the DevTools protocol.

Chromium is started with ``--remote-debugging-port=0``; a websocket client
(aiohttp, in the test group) attaches to a new tab, enables the
Page, Runtime, Log and Network domains, loads the page and waits until the
page's script sets ``document.body.dataset.rendered``. Everything the console
reported, every exception and every request the page made are collected, so
tests can assert there were no errors and no network access.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import itertools
import json
import os
import re
import shutil
import subprocess
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import attrs

_LISTENING = re.compile(r"DevTools listening on (ws://\S+)")


def chromium_binary() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome", "chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


@attrs.frozen
class PageVisit:
    """What one page load showed."""

    rendered_ms: float | None  # document.body.dataset.rendered (performance.now() at the end)
    timings: dict[str, float]
    errors: tuple[str, ...]  # console.error/assert, uncaught exceptions, Log errors
    console: tuple[str, ...]  # every console message, any level
    requests: tuple[str, ...]  # URLs the page asked for
    screenshot: bytes  # PNG of the viewport, scaled by screenshot_scale
    probe: Any  # value of the probe expression, evaluated once rendered


class ChromiumDidNotStart(RuntimeError):
    pass


def visit(
    url: str,
    *,
    probe: str = "null",
    width: int = 1400,
    height: int = 1000,
    timeout: float = 60.0,
    clicks: tuple[str, ...] = (),
    wait_for_render: bool = True,
    screenshot_scale: float = 0.5,
) -> PageVisit:
    """Load ``url``, wait for the rendered mark, run each ``clicks`` expression,
    evaluate ``probe`` (a JS expression whose value is returned as JSON), screenshot."""
    binary = chromium_binary()
    if binary is None:
        raise ChromiumDidNotStart("no chromium on PATH")
    with tempfile.TemporaryDirectory(prefix="consist-chromium-") as profile:
        proc = subprocess.Popen(
            [
                binary,
                "--headless",
                "--disable-gpu",
                "--no-sandbox",
                "--no-first-run",
                "--hide-scrollbars",
                "--remote-debugging-port=0",
                f"--user-data-dir={profile}",
                "about:blank",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            ws_url = _devtools_url(proc, timeout=30.0)
            return asyncio.run(
                _visit(
                    ws_url,
                    url,
                    probe,
                    width,
                    height,
                    timeout,
                    clicks,
                    wait_for_render,
                    screenshot_scale,
                )
            )
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def _devtools_url(proc: subprocess.Popen[str], timeout: float) -> str:
    assert proc.stderr is not None
    deadline = time.monotonic() + timeout
    seen: list[str] = []
    os.set_blocking(proc.stderr.fileno(), True)
    while time.monotonic() < deadline:
        line = proc.stderr.readline()
        if not line:
            if proc.poll() is not None:
                break
            continue
        seen.append(line.rstrip())
        match = _LISTENING.search(line)
        if match:
            # Keep reading what chromium logs, or a full pipe would stall it.
            threading.Thread(target=proc.stderr.read, daemon=True).start()
            return match.group(1)
    raise ChromiumDidNotStart("chromium did not start:\n" + "\n".join(seen[-20:]))


async def _visit(
    ws_url: str,
    url: str,
    probe: str,
    width: int,
    height: int,
    timeout: float,
    clicks: tuple[str, ...],
    wait_for_render: bool,
    screenshot_scale: float,
) -> PageVisit:
    import aiohttp

    counter = itertools.count(1)
    pending: dict[int, asyncio.Future[Any]] = {}
    console: list[str] = []
    errors: list[str] = []
    requests: list[str] = []
    loaded = asyncio.Event()

    async with (
        aiohttp.ClientSession() as http,
        http.ws_connect(ws_url, max_msg_size=0) as ws,
    ):

        async def reader() -> None:
            async for message in ws:
                data = json.loads(message.data)
                if "id" in data and data["id"] in pending:
                    pending.pop(data["id"]).set_result(data)
                    continue
                method, params = data.get("method"), data.get("params", {})
                if method == "Runtime.consoleAPICalled":
                    text = " ".join(
                        str(arg.get("value", arg.get("description", ""))) for arg in params["args"]
                    )
                    console.append(f"{params['type']}: {text}")
                    if params["type"] in ("error", "assert"):
                        errors.append(f"console.{params['type']}: {text}")
                elif method == "Runtime.exceptionThrown":
                    details = params["exceptionDetails"]
                    described = details.get("exception", {}).get("description", "")
                    errors.append(f"exception: {details.get('text')} {described}")
                elif method == "Log.entryAdded":
                    entry = params["entry"]
                    console.append(f"log {entry['level']}: {entry.get('text')}")
                    if entry["level"] == "error":
                        errors.append(f"log: {entry.get('text')} {entry.get('url', '')}")
                elif method == "Network.requestWillBeSent":
                    requests.append(params["request"]["url"])
                elif method == "Page.loadEventFired":
                    loaded.set()

        task = asyncio.create_task(reader())

        async def call(method: str, session: str | None = None, **params: Any) -> Any:
            number = next(counter)
            future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
            pending[number] = future
            message: dict[str, Any] = {"id": number, "method": method, "params": params}
            if session:
                message["sessionId"] = session
            await ws.send_str(json.dumps(message))
            reply = await asyncio.wait_for(future, timeout)
            if "error" in reply:
                raise RuntimeError(f"{method}: {reply['error']}")
            return reply.get("result", {})

        async def evaluate(expression: str, session: str) -> Any:
            result = await call(
                "Runtime.evaluate", session, expression=expression, returnByValue=True
            )
            if "exceptionDetails" in result:
                raise RuntimeError(f"{expression}: {result['exceptionDetails']}")
            return result["result"].get("value")

        try:
            target = await call("Target.createTarget", url="about:blank")
            attached = await call(
                "Target.attachToTarget", targetId=target["targetId"], flatten=True
            )
            session = attached["sessionId"]
            for domain in ("Page", "Runtime", "Log", "Network"):
                await call(f"{domain}.enable", session)
            await call(
                "Emulation.setDeviceMetricsOverride",
                session,
                width=width,
                height=height,
                deviceScaleFactor=1,
                mobile=False,
            )
            await call("Page.navigate", session, url=url)
            await asyncio.wait_for(loaded.wait(), timeout)
            deadline = time.monotonic() + timeout
            rendered = None
            while wait_for_render and time.monotonic() < deadline:
                rendered = await evaluate("document.body?.dataset.rendered", session)
                failed = await evaluate("!!document.getElementById('error')", session)
                if rendered or failed:
                    break
                await asyncio.sleep(0.05)
            timings = json.loads(
                await evaluate("document.body?.dataset.timings || '{}'", session) or "{}"
            )
            for click in clicks:
                await evaluate(click, session)
            value = json.loads(await evaluate(f"JSON.stringify({probe})", session))
            clip = {"x": 0, "y": 0, "width": width, "height": height, "scale": screenshot_scale}
            shot = await call("Page.captureScreenshot", session, format="png", clip=clip)
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
    return PageVisit(
        float(rendered) if rendered else None,
        timings,
        tuple(errors),
        tuple(console),
        tuple(requests),
        base64.b64decode(shot["data"]),
        value,
    )


def file_url(path: Path) -> str:
    return path.resolve().as_uri()
