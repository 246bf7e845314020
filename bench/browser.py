"""The page's Realtime client against the official one: time from "Start" to `session.updated`,
and bytes of JavaScript.

Ours: the tutor page as a signed-in learner sees it. Theirs: `@openai/agents-realtime`
(npm-installed into a temporary folder, bundled and minified with esbuild, never committed),
on a tiny page served from the same origin. Both, on "Start", fetch a key from POST
/tutor/token/ (the same `ek_` key, the same session config), open the microphone (Chromium's
fake one) and connect over WebRTC to the same Realtime stand-in under daphne, in the same
headless Chromium. The clock runs from the click to the first `session.updated` event.
Runs alternate between the two, each in a fresh browser context.

    python bench/browser.py [--smoke] [--runs N]
"""

from __future__ import annotations

import asyncio
import gzip
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import (
    REPO,
    Progress,
    bench_database_url,
    daphne,
    django_setup,
    figure,
    header,
    parser,
    percentile,
    verdict,
)

PACKAGE = "@openai/agents-realtime"
NPM_UNAVAILABLE = 3  # exit status when the official client cannot be installed
TIMEOUT_MS = 30_000
# Both pages sit this long between loading and the click: a learner does not click within
# milliseconds of the page appearing, and the previous run's call (hung up as its context
# closed) is torn down in daphne meanwhile rather than inside the next run's clock.
SETTLE_MS = 500

ENTRY_JS = """
import { RealtimeAgent, RealtimeSession } from "@openai/agents-realtime";

document.getElementById("start").addEventListener("click", async () => {
  const csrf = (document.cookie.match(/csrftoken=([^;]+)/) || [])[1] || "";
  const response = await fetch("/tutor/token/", {
    method: "POST",
    credentials: "same-origin",
    headers: { "Content-Type": "application/json", "X-CSRFToken": csrf },
    body: "{}",
  });
  const token = await response.json();
  const agent = new RealtimeAgent({ name: "Tutor" });
  const session = new RealtimeSession(agent, { transport: "webrtc", model: token.model });
  session.on("transport_event", (event) => {
    if (event.type === "error") window.benchError = JSON.stringify(event);
  });
  try {
    await session.connect({ apiKey: token.client_secret, url: new URL(token.calls_url, location.href).href });
  } catch (error) {
    window.benchError = String(error);
  }
});
"""

OFFICIAL_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><link rel="icon" href="data:,"><title>official client</title></head>
<body><button id="start">Start</button><script src="/bench/official/bundle.js"></script></body></html>
"""

# The clock, the same for both pages: a capturing click listener on the start button, and
# the receipt of the first `session.updated` on the `oai-events` data channel (a listener the
# channel gets as it is created, before the page's own), not whatever the page does next.
CLOCK_JS = """
document.addEventListener("click", (event) => {
  if (event.target.closest("#start, [data-action=start]") && window.benchStart === undefined) {
    window.benchStart = performance.now();
    performance.mark("bench-click");
  }
}, true);
// Where the time goes: when the key request and the microphone start and end.
window.benchMarks = {};
const benchFetch = window.fetch;
const benchMark = (name, started) => {
  if (window.benchMarks[name] === undefined) window.benchMarks[name] = [started, performance.now()];
};
window.fetch = async (...args) => {
  const started = performance.now();
  const response = await benchFetch(...args);
  if (String(args[0]).includes("/tutor/token/")) benchMark("token", started);
  if (String(args[0]).includes("/realtime/calls")) benchMark("offer", started);
  return response;
};
// Each WebRTC step, the first time it runs (the same wrappers on both pages).
for (const step of ["createOffer", "setLocalDescription", "setRemoteDescription"]) {
  const original = RTCPeerConnection.prototype[step];
  RTCPeerConnection.prototype[step] = async function (...args) {
    const started = performance.now();
    const result = await original.apply(this, args);
    benchMark(step, started);
    return result;
  };
}
const benchSend = RTCDataChannel.prototype.send;
RTCDataChannel.prototype.send = function (...args) {
  benchMark("send", performance.now());
  return benchSend.apply(this, args);
};
if (navigator.mediaDevices) {
  const benchGetUserMedia = navigator.mediaDevices.getUserMedia.bind(navigator.mediaDevices);
  navigator.mediaDevices.getUserMedia = async (constraints) => {
    const started = performance.now();
    const stream = await benchGetUserMedia(constraints);
    window.benchMarks.microphone = [started, performance.now()];
    return stream;
  };
}
const benchCreateDataChannel = RTCPeerConnection.prototype.createDataChannel;
RTCPeerConnection.prototype.createDataChannel = function (...args) {
  const channel = benchCreateDataChannel.apply(this, args);
  benchMark("peer", performance.now());
  channel.addEventListener("open", () => benchMark("open", performance.now()));
  channel.addEventListener("message", (message) => {
    if (window.benchLive !== undefined || typeof message.data !== "string") return;
    if (message.data.includes('"session.updated"') && JSON.parse(message.data).type === "session.updated") {
      window.benchLive = performance.now();
      performance.mark("bench-session-updated");
    }
  });
  return channel;
};
"""


class RunFailed(Exception):
    pass


def official_bundle(workdir: Path) -> tuple[bytes, str]:
    """npm-install the official client and esbuild, bundle and minify it; the bundle and version."""
    (workdir / "package.json").write_text('{"name": "bench-official", "private": true}')
    (workdir / "entry.js").write_text(ENTRY_JS)
    started = time.monotonic()
    try:
        subprocess.run(
            [
                "npm",
                "install",
                "--no-audit",
                "--no-fund",
                "--loglevel=error",
                "--fetch-retries=1",
                PACKAGE,
                "esbuild",
            ],
            cwd=workdir,
            check=True,
            capture_output=True,
            timeout=600,
        )
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as error:
        detail = getattr(error, "stderr", b"") or b""
        print(f"npm install failed: {detail.decode(errors='replace')[-2000:]}", file=sys.stderr)
        raise SystemExit(NPM_UNAVAILABLE) from None
    subprocess.run(
        [
            "node_modules/.bin/esbuild",
            "entry.js",
            "--bundle",
            "--minify",
            "--format=iife",
            "--platform=browser",
            "--target=es2020",
            "--outfile=bundle.js",
            "--log-level=error",
        ],
        cwd=workdir,
        check=True,
        capture_output=True,
        timeout=300,
    )
    version = json.loads((workdir / "node_modules" / PACKAGE / "package.json").read_text())[
        "version"
    ]
    print(
        f"official client: {PACKAGE} {version} (installed and bundled in {time.monotonic() - started:.1f} s)"
    )
    return (workdir / "bundle.js").read_bytes(), version


def learner_cookie() -> str:
    from django.test import Client

    from accounts.models import User
    from tutor.models import Assignment, Word, WordList

    learner = User.objects.create_user(
        email=f"browser-{time.time_ns()}@bench.test",
        password="x",
        target_language="es",
        cefr_level="A2",
        # The official client's page never reports its calls, so each of its sessions is
        # charged to its 30-minute cap: a day's worth keeps every run under the limit.
        daily_voice_minutes=24 * 60,
    )
    words = WordList.objects.create(name=f"bench {learner.pk}", language="es")
    for position, (term, meaning) in enumerate(
        [("gato", "cat"), ("perro", "dog"), ("casa", "house")]
    ):
        Word.objects.create(word_list=words, term=term, meaning=meaning, position=position)
    Assignment.objects.create(learner=learner, word_list=words)
    client = Client()
    client.force_login(learner)
    return client.cookies["sessionid"].value


TRACE_CATEGORIES = [
    "toplevel",
    "blink.user_timing",
    "devtools.timeline",
    "v8.execute",
    "webrtc",
    "disabled-by-default-webrtc",
]
TASKS = {"ThreadControllerImpl::RunTask", "RunTask", "ThreadPool_RunTask"}


def trace_summary(path: Path) -> list[tuple[str, float, int]]:
    """From a Chromium trace: each thread's busy time (top-level tasks, clipped) between the
    click and session.updated, busiest first, as (process/thread, ms, tasks)."""
    events = json.loads(path.read_text())
    events = events.get("traceEvents", events) if isinstance(events, dict) else events
    names, processes, marks = {}, {}, {}
    for e in events:
        if e.get("ph") == "M" and e.get("name") == "thread_name":
            names[(e["pid"], e["tid"])] = e["args"]["name"]
        elif e.get("ph") == "M" and e.get("name") == "process_name":
            processes[e["pid"]] = e["args"]["name"]
        elif e.get("name") in ("bench-click", "bench-session-updated") and "ts" in e:
            marks.setdefault(e["name"], e["ts"])
    if len(marks) < 2:
        return []
    begin, end = marks["bench-click"], marks["bench-session-updated"]
    busy: dict[tuple, list] = {}
    for e in events:
        if e.get("ph") != "X" or e.get("name") not in TASKS or "dur" not in e:
            continue
        overlap = min(end, e["ts"] + e["dur"]) - max(begin, e["ts"])
        if overlap > 0:
            entry = busy.setdefault((e["pid"], e["tid"]), [0.0, 0])
            entry[0] += overlap / 1000
            entry[1] += 1
    rows = [
        (f"{processes.get(pid, pid)}/{names.get((pid, tid), tid)}", ms, n)
        for (pid, tid), (ms, n) in busy.items()
    ]
    rows.append(("(click to session.updated, wall)", (end - begin) / 1000, 0))
    return sorted(rows, key=lambda row: -row[1])


async def one_run(
    browser, base_url: str, cookie: str, which: str, bundle: bytes, trace: Path | None = None
) -> tuple[float, int, int, dict]:
    """Milliseconds from the click to session.updated, the page's JS bytes (raw, gzip), and phases."""
    context = await browser.new_context()
    # A returning learner, who allowed the microphone on an earlier visit.
    await context.grant_permissions(["microphone"], origin=base_url)
    await context.add_cookies([{"name": "sessionid", "value": cookie, "url": base_url}])
    await context.add_init_script(CLOCK_JS)
    await context.route(
        "**/bench/official/",
        lambda route: route.fulfill(body=OFFICIAL_PAGE, content_type="text/html"),
    )
    await context.route(
        "**/bench/official/bundle.js",
        lambda route: route.fulfill(body=bundle, content_type="text/javascript"),
    )
    page = await context.new_page()
    scripts: list[asyncio.Task] = []
    # The scripts of the page that is timed (for the official client, not /tutor/ before it,
    # whose bodies are gone once the page navigates away).
    counting = [which == "ours"]
    page.on(
        "response",
        lambda r: (
            scripts.append(asyncio.ensure_future(r.body()))
            if counting[0] and r.request.resource_type == "script"
            else None
        ),
    )
    try:
        await page.goto(f"{base_url}/tutor/")  # sets the CSRF cookie, for both pages
        if which == "official":
            counting[0] = True
            await page.goto(f"{base_url}/bench/official/")
        await page.wait_for_load_state("networkidle")
        await page.wait_for_timeout(SETTLE_MS)
        if trace:
            await browser.start_tracing(page=page, path=str(trace), categories=TRACE_CATEGORIES)
        await page.click("#start" if which == "official" else "[data-action=start]")
        try:
            await page.wait_for_function(
                "() => window.benchLive !== undefined || window.benchError !== undefined",
                timeout=TIMEOUT_MS,
            )
        except Exception:
            state = await page.evaluate(
                "() => { const r = document.getElementById('tutor'); const n = document.querySelector('[data-notice]');"
                " return r ? r.dataset.state + ': ' + (n ? n.textContent : '') : document.title; }"
            )
            raise RunFailed(
                f"{which}: no session.updated within {TIMEOUT_MS} ms ({state})"
            ) from None
        error = await page.evaluate("() => window.benchError")
        if error:
            raise RunFailed(f"{which}: {error}")
        elapsed, marks = await page.evaluate(
            "() => [window.benchLive - window.benchStart, window.benchMarks]"
        )
        if trace:
            await page.wait_for_timeout(200)
            await browser.stop_tracing()
        bodies = [await task for task in scripts]
        start = await page.evaluate("() => window.benchStart")
        phases = phases_of(marks, start, elapsed)
        return (
            elapsed,
            sum(len(b) for b in bodies),
            sum(len(gzip.compress(b)) for b in bodies),
            phases,
        )
    finally:
        await context.close()


# Where the time goes, each from the marks CLOCK_JS takes (milliseconds).
PHASES = (
    "microphone",
    "key request",
    "key to session.updated",
    "  click to key request",
    "  key to data channel made",
    "  data channel made to createOffer",
    "  createOffer",
    "  setLocalDescription",
    "  offer POST (answer back)",
    "  setRemoteDescription",
    "  answer set to channel open",
    "  open to session.update sent",
    "  sent to session.updated",
)


def phases_of(marks: dict, start: float, elapsed: float) -> dict:
    span = lambda name: marks[name][1] - marks[name][0]  # noqa: E731
    return dict(
        zip(
            PHASES,
            (
                span("microphone"),
                span("token"),
                elapsed - (marks["token"][1] - start),
                marks["token"][0] - start,
                marks["peer"][1] - marks["token"][1],
                marks["createOffer"][0] - marks["peer"][1],
                span("createOffer"),
                span("setLocalDescription"),
                span("offer"),
                span("setRemoteDescription"),
                marks["open"][1] - marks["setRemoteDescription"][1],
                marks["send"][1] - marks["open"][1],
                start + elapsed - marks["send"][1],
            ),
        )
    )


async def run(
    base_url: str, cookie: str, bundle: bytes, runs: int, warmup: int, trace_dir: Path | None
) -> dict:
    from playwright.async_api import async_playwright

    from tests.support.browser import CHROMIUM, chromium_args

    results = {"ours": [], "official": []}
    sizes = {}
    failures: list[str] = []
    breakdown: dict[tuple[str, str], list[float]] = {}
    traces: dict[str, tuple] = {}
    progress = Progress("runs (ours, official, alternating)", 2 * (runs + warmup))
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=chromium_args()
        )
        try:
            for n in range(runs + warmup):
                for which in ("ours", "official"):
                    try:
                        elapsed, raw, packed, phases = await one_run(
                            browser, base_url, cookie, which, bundle
                        )
                    except RunFailed as failure:
                        failures.append(str(failure))
                        if len(failures) > 3:
                            raise SystemExit(
                                "too many failed runs:\n" + "\n".join(failures)
                            ) from None
                        progress.step()
                        continue
                    if n >= warmup:
                        results[which].append(elapsed)
                        for phase, ms in phases.items():
                            breakdown.setdefault((which, phase), []).append(ms)
                    sizes[which] = (raw, packed)
                    progress.step()
            # One traced connect of each, after the timed runs (tracing slows what it traces).
            for which in ("ours", "official") if trace_dir else ():
                path = trace_dir / f"connect-{which}.json"
                elapsed, _, _, phases = await one_run(
                    browser, base_url, cookie, which, bundle, trace=path
                )
                traces[which] = (elapsed, phases, trace_summary(path))
        finally:
            await browser.close()
    return {
        "times": results,
        "sizes": sizes,
        "failures": failures,
        "breakdown": breakdown,
        "traces": traces,
    }


def main() -> None:
    p = parser(__doc__.splitlines()[0])
    p.add_argument(
        "--runs", type=int, default=0, help="timed runs of each client (default 20; 1 with --smoke)"
    )
    p.add_argument(
        "--trace",
        type=Path,
        default=None,
        help="after the timed runs, trace one connect of each with Chromium into this folder",
    )
    args = p.parse_args()
    runs = args.runs or (1 if args.smoke else 20)
    warmup = 0 if args.smoke else 2
    header(
        'Browser: "Start" to session.updated, and JavaScript bytes: our client vs the official one',
        args,
    )
    if args.trace:
        args.trace.mkdir(parents=True, exist_ok=True)
    if shutil.which("npm") is None:
        raise SystemExit("npm is needed to install the official client")

    workdir = Path(tempfile.mkdtemp(prefix="bench-official-"))
    try:
        bundle, _ = official_bundle(workdir)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    database_url = bench_database_url(args.database_url)
    env = {
        "REALTIME_STANDIN": "on",
        "OPENAI_API_KEY": "",
        "TUTOR_MINTS_PER_MINUTE": "1000000",
        "TUTOR_MAX_LIVE_SESSIONS": "1000000",
    }
    django_setup(database_url, static=True, **env)
    cookie = learner_cookie()
    from django.db import connections

    connections.close_all()
    with daphne(database_url, env) as server:
        result = asyncio.run(run(server.base_url, cookie, bundle, runs, warmup, args.trace))

    ours, official = result["times"]["ours"], result["times"]["official"]
    for failure in result["failures"]:
        print(f"failed run (left out): {failure}")
    print(
        f"runs: {len(ours)} of ours and {len(official)} of theirs after {warmup} warm-up runs, alternating, headless Chromium, the stand-in under daphne"
    )
    p50 = figure(
        '"Start" to session.updated, p50',
        percentile(ours, 50),
        percentile(official, 50),
        "ms",
        target="<= 1.0",
    )
    figure('"Start" to session.updated, p99', percentile(ours, 99), percentile(official, 99), "ms")
    for phase in PHASES:
        figure(
            f"  of which {phase}, p50",
            percentile(result["breakdown"][("ours", phase)], 50),
            percentile(result["breakdown"][("official", phase)], 50),
            "ms",
        )
    for which, (elapsed, phases, rows) in result["traces"].items():
        print(f"traced connect, {which}: {elapsed:.1f} ms; " + ", ".join(f"{k.strip()} {v:.1f}" for k, v in phases.items()))
        for name, ms, tasks in rows[:10]:
            print(f"  busy {ms:7.1f} ms in {tasks:4d} tasks: {name}")
    (our_raw, our_gz), (their_raw, their_gz) = result["sizes"]["ours"], result["sizes"]["official"]
    raw_ratio = figure("JavaScript bytes", our_raw, their_raw, "B", target="<= 0.2")
    gz_ratio = figure("JavaScript bytes, gzip", our_gz, their_gz, "B", target="<= 0.2")
    print(
        f"(ours: {(REPO / 'static/js').name}/*.js as served, unminified; theirs: the esbuild bundle, minified)"
    )
    verdict("time ratio <= 1.0", p50 <= 1.0, f"p50 {p50:.2f}")
    verdict("bytes ratio <= 1/5", raw_ratio <= 0.2, f"{raw_ratio:.3f} raw, {gz_ratio:.3f} gzip")


if __name__ == "__main__":
    main()
