"""Debian's Chromium under Playwright, with a fake microphone that plays a speech WAV."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
from pathlib import Path

CHROMIUM = Path("/usr/bin/chromium")

BASE_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--use-fake-ui-for-media-stream",
    "--use-fake-device-for-media-stream",
    "--allow-loopback-in-peer-connection",
    "--autoplay-policy=no-user-gesture-required",
]


def chromium_missing_reason() -> str | None:
    if not CHROMIUM.exists():
        return f"{CHROMIUM} is not installed (apt-get install chromium)"
    return None


def chromium_args(microphone_wav: Path | None = None) -> list[str]:
    args = list(BASE_ARGS)
    if microphone_wav is not None:
        args.append(f"--use-file-for-fake-audio-capture={microphone_wav}")
    return args


async def chromium_launch(playwright, microphone_wav: Path | None = None):
    """Launch headless Chromium (async Playwright) with the fake microphone playing ``microphone_wav``."""
    return await playwright.chromium.launch(
        executable_path=str(CHROMIUM), headless=True, args=chromium_args(microphone_wav)
    )


def speech_tools_missing_reason() -> str | None:
    missing = [tool for tool in ("espeak-ng", "sox") if shutil.which(tool) is None]
    return f"{' and '.join(missing)} not installed" if missing else None


def speech_wav(
    text: str,
    directory: Path,
    *,
    voice: str = "en-us",
    pad_start_s: float = 0.5,
    pad_end_s: float = 1.5,
) -> Path:
    """A 48 kHz mono 16-bit WAV of ``text`` (espeak-ng + sox) with silence around it, cached by content.

    The silence lets a voice activity detector see each loop of the fake microphone as one turn.
    """
    key = hashlib.sha256(f"{voice}|{pad_start_s}|{pad_end_s}|{text}".encode()).hexdigest()[:16]
    directory.mkdir(parents=True, exist_ok=True)
    target = directory / f"speech-{key}.wav"
    if target.exists():
        return target
    raw = directory / f"raw-{key}.wav"
    subprocess.run(["espeak-ng", "-v", voice, "-w", str(raw), text], check=True, capture_output=True)
    subprocess.run(
        ["sox", str(raw), "-r", "48000", "-c", "1", "-b", "16", str(target), "pad", str(pad_start_s), str(pad_end_s)],
        check=True,
        capture_output=True,
    )
    raw.unlink()
    return target


ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts"


class CheckedBrowser:
    """One browser context that records console errors and checks page widths; its
    screenshots are ``artifacts/<prefix>-<shot>-<name>.png``."""

    def __init__(self, context, name: str, *, prefix: str) -> None:
        self.context = context
        self.name = name
        self.prefix = prefix
        self.errors: list[str] = []

    async def page(self):
        page = await self.context.new_page()
        page.on("pageerror", lambda exc: self.errors.append(f"{page.url}: {exc}"))
        page.on("console", lambda m: self.errors.append(f"{page.url}: {m.text}") if m.type == "error" else None)
        return page

    async def check(self, page, shot: str) -> None:
        """Save a full-page screenshot and fail if the page is wider than the viewport."""
        import os

        artifacts = Path(os.environ.get("PARLANCE_ARTIFACTS", ARTIFACTS))
        artifacts.mkdir(parents=True, exist_ok=True)
        await page.screenshot(path=str(artifacts / f"{self.prefix}-{shot}-{self.name}.png"), full_page=True)
        width = await page.evaluate("() => [document.documentElement.scrollWidth, window.innerWidth]")
        assert width[0] <= width[1], f"{page.url} is {width[0]}px wide in a {width[1]}px {self.name} viewport"
