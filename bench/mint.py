"""Minting a browser key: POST /tutor/token/ against a bare async view that only forwards.

Both run in this process through the real ASGI application (httpx.ASGITransport: the same
middleware, sessions and CSRF check) and call the same upstream stub (a subprocess) through
the same Realtime client, with the production settings (bench/_common.py). One learner has
30,000 words with progress and 1,000 grades, another 10 words. Mints for each and the bare
view are timed alternately, one request at a time, against a stub that answers at once and
then against one that answers in 150 ms (closer to the real API); then SQL statements per
mint are counted for both learners (constant means the same count).

    python bench/mint.py [--smoke] [--samples N] [--slow-samples N] [--database-url URL]
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import statistics
import subprocess
import sys
import time

from _common import (
    Progress,
    bench_database_url,
    django_setup,
    figure,
    free_port,
    header,
    parser,
    percentile,
    verdict,
)

SERVER_KEY = "sk-bench-upstream-key"
CSRF = "b" * 32


def learner_build(email: str, *, words: int, grades: int):
    """A learner with ``words`` assigned words (all with progress) and ``grades`` test results."""
    from django.utils import timezone

    from accounts.models import User
    from tutor.models import Assignment, TestResult, Word, WordList, WordProgress

    from allauth.account.models import EmailAddress

    learner = User.objects.create_user(
        email=email, password="x", target_language="es", cefr_level="B1", daily_voice_minutes=24 * 60
    )
    EmailAddress.objects.create(user=learner, email=email, verified=True, primary=True)
    now = timezone.now()
    per_list = 1_000
    word_ids = []
    for start in range(0, words, per_list):
        word_list = WordList.objects.create(name=f"{email} {start // per_list}", language="es")
        Assignment.objects.create(learner=learner, word_list=word_list)
        created = Word.objects.bulk_create(
            Word(word_list=word_list, term=f"palabra{n}", meaning=f"word {n}", position=n)
            for n in range(start, min(start + per_list, words))
        )
        word_ids += [w.pk for w in created]
    WordProgress.objects.bulk_create(
        WordProgress(
            learner=learner,
            word_id=word_id,
            repetitions=n % 6,
            interval_days=(n * 7) % 40,
            card_state=2,
            stability=1.0 + n % 40,
            difficulty=1 + (n % 90) / 10,
            due_at=now + dt.timedelta(days=(n % 30) - 15),
            last_result=["correct", "hesitant", "incorrect"][n % 3],
            correct_count=n % 5,
            incorrect_count=n % 4,
            last_reviewed_at=now - dt.timedelta(days=n % 60),
        )
        for n, word_id in enumerate(word_ids)
        if n % 10  # every tenth word is new
    )
    first_list = WordList.objects.filter(assignments__learner=learner).first()
    TestResult.objects.bulk_create(
        TestResult(
            learner=learner,
            word_list=first_list,
            score=n % 10,
            max_score=10,
            taken_at=now - dt.timedelta(hours=n),
        )
        for n in range(grades)
    )
    return learner


def cookies_for(learner) -> dict[str, str]:
    from django.test import Client

    client = Client()
    client.force_login(learner)
    return {"sessionid": client.cookies["sessionid"].value, "csrftoken": CSRF}


class QueryCounter:
    """Counts SQL statements on every connection, in every thread."""

    def __init__(self) -> None:
        self.count = 0
        self.recorded: list[str] | None = None
        self.paused = False

    def __call__(self, execute, sql, params, many, context):
        if self.paused:
            return execute(sql, params, many, context)
        self.count += 1
        if self.recorded is not None:
            self.recorded.append(sql)
        return execute(sql, params, many, context)

    def install(self) -> None:
        from django.db import connections
        from django.db.backends.signals import connection_created

        def wrap(sender, connection, **kwargs) -> None:
            # With the pool a thread's connection is created again at each borrow: wrap it once.
            if self not in connection.execute_wrappers:
                connection.execute_wrappers.append(self)

        connections.close_all()
        connection_created.connect(wrap, weak=False)


def _calls_reported() -> None:
    """What an honest page leads to after each mint: its call reported, then ended. Without
    it every session of the run would stay charged (no call was reported for its key), and
    the limits would read hundreds of open sessions no learner can have."""
    from django.utils import timezone

    from tutor.models import TutorSession

    TutorSession.objects.filter(keys_unreported__gt=0).update(
        keys_unreported=0, status=TutorSession.Status.ENDED, ended_at=timezone.now()
    )


async def settle(counter) -> None:
    """``_calls_reported``, untimed and not counted as the mint's statements."""
    from asgiref.sync import sync_to_async

    counter.paused = True
    try:
        await sync_to_async(_calls_reported)()
    finally:
        counter.paused = False


async def timed_posts(plan, progress: Progress, counter) -> dict[str, list[float]]:
    """``plan``: (label, client, path) in the order to send them; the times by label."""
    times: dict[str, list[float]] = {label: [] for label, _, _ in plan}
    for label, http, path in plan:
        started = time.perf_counter()
        response = await http.post(
            path, content=b"{}", headers={"X-CSRFToken": CSRF, "Content-Type": "application/json"}
        )
        elapsed = time.perf_counter() - started
        if response.status_code != 200:
            raise SystemExit(f"{path} answered {response.status_code}: {response.text[:300]}")
        times[label].append(elapsed * 1000)
        if path == TOKEN:
            await settle(counter)
        progress.step()
    return times


TOKEN, BARE = "/tutor/token/", "/bench/bare-forward/"


async def run(args, learners) -> None:
    import httpx
    from django.conf import settings

    from config.asgi import application

    (_, big_cookies), (_, small_cookies) = learners
    transport = httpx.ASGITransport(app=application)
    counter = args.counter
    base = "http://127.0.0.1"
    big_name = f"{args.words:,} words"
    async with (
        httpx.AsyncClient(transport=transport, base_url=base, cookies=big_cookies) as big,
        httpx.AsyncClient(transport=transport, base_url=base, cookies=small_cookies) as small,
    ):
        settings.REALTIME_BASE_URL = args.instant_url
        warm = 3 if args.smoke else 20
        trio = [("big", big, TOKEN), ("small", small, TOKEN), ("bare", big, BARE)]
        await timed_posts(trio * warm, Progress("warm-up", 3 * warm), counter)
        samples = args.samples
        times = await timed_posts(
            trio * samples, Progress(f"mints ({big_name}, 10 words, bare; instant stub)", 3 * samples), counter
        )
        settings.REALTIME_BASE_URL = args.slow_url
        await timed_posts(trio[::2] * warm, Progress(f"warm-up ({args.slow_ms:g} ms stub)", 2 * warm), counter)
        slow = await timed_posts(
            trio[::2] * args.slow_samples,
            Progress(f"mints ({big_name}, bare; {args.slow_ms:g} ms stub)", 2 * args.slow_samples),
            counter,
        )
        settings.REALTIME_BASE_URL = args.instant_url

        print(f"samples: {samples} of each against the instant stub, {args.slow_samples} against "
              f"the {args.slow_ms:g} ms stub; alternating, one request at a time")
        p50 = figure("p50 latency", percentile(times["big"], 50), percentile(times["bare"], 50), "ms",
                     target="<= 1.7")
        figure("p99 latency", percentile(times["big"], 99), percentile(times["bare"], 99), "ms")
        p50_slow = figure(
            f"p50 latency ({args.slow_ms:g} ms stub)", percentile(slow["big"], 50),
            percentile(slow["bare"], 50), "ms", target="<= 1.05",
        )
        figure(f"p99 latency ({args.slow_ms:g} ms stub)", percentile(slow["big"], 99),
               percentile(slow["bare"], 99), "ms")
        p50_size = figure(
            f"p50 latency, {big_name} vs 10 words", percentile(times["big"], 50),
            percentile(times["small"], 50), "ms", target="<= 1.1",
        )

        per_mint = {}
        rounds = 3 if args.smoke else 10
        rebuilt = {}
        for name, http in ((big_name, big), ("10 words", small)):
            counts = []
            for _ in range(rounds):
                before = counter.count
                await timed_posts([(name, http, TOKEN)], Progress(f"queries ({name})", 1), counter)
                counts.append(counter.count - before)
            # The usual mint; one that rebuilds the plan (its cache entry is at most 5 minutes
            # old) takes that plan's six more, and is reported apart.
            per_mint[name] = statistics.mode(counts)
            rebuilt[name] = sum(count > per_mint[name] for count in counts)
        before = counter.count
        await timed_posts([("bare", big, BARE)] * rounds, Progress("queries (bare)", rounds), counter)
        bare_queries = (counter.count - before) / rounds
        counter.recorded = []
        await timed_posts([("one", big, TOKEN)], Progress("one mint, statement by statement", 1), counter)
    print("statements of one mint:")
    for n, sql in enumerate(counter.recorded, 1):
        print(f"  {n:2}. {' '.join(sql.split())[:150]}")
    counter.recorded = None
    for name, queries in per_mint.items():
        print(f"SQL queries per mint ({name}): {queries:g} | baseline (bare view) {bare_queries:g}"
              f" | {rebuilt[name]} of {rounds} rebuilt the plan")
    constant = len(set(per_mint.values())) == 1
    worst = max(per_mint.values())
    verdict("p50 ratio <= 1.7 (instant stub)", p50 <= 1.7, f"{p50:.2f}")
    verdict(f"p50 ratio <= 1.05 ({args.slow_ms:g} ms stub)", p50_slow <= 1.05, f"{p50_slow:.2f}")
    verdict(f"p50 {big_name} / 10 words <= 1.1", p50_size <= 1.1, f"{p50_size:.2f}")
    verdict(
        "queries per mint constant and <= 5",
        constant and worst <= 5,
        f"{'constant' if constant else 'not constant'}, {worst:g} per mint",
    )


def stub_start(delay_ms: float) -> tuple[subprocess.Popen, str]:
    port = free_port()
    stub = subprocess.Popen(
        [sys.executable, os.path.join(os.path.dirname(__file__), "_upstream_stub.py"), str(port), str(delay_ms)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert stub.stdout.readline().strip() == "ready"
    return stub, f"http://127.0.0.1:{port}/v1"


def main() -> None:
    p = parser(__doc__.splitlines()[0])
    p.add_argument(
        "--samples", type=int, default=0, help="mints of each kind (default 400; 10 with --smoke)"
    )
    p.add_argument(
        "--slow-samples", type=int, default=0,
        help="mints of each kind against the slow stub (default 150; 5 with --smoke)",
    )
    p.add_argument("--slow-ms", type=float, default=150.0, help="the slow stub's delay (default 150)")
    args = p.parse_args()
    args.samples = args.samples or (10 if args.smoke else 400)
    args.slow_samples = args.slow_samples or (5 if args.smoke else 150)
    header("Minting: POST /tutor/token/ vs a bare forwarding view", args)

    stubs = []
    try:
        instant, args.instant_url = stub_start(0)
        slow, args.slow_url = stub_start(args.slow_ms)
        stubs = [instant, slow]
        database_url = bench_database_url(args.database_url)
        print(f"database: {database_url.split('@')[-1]}")
        django_setup(
            database_url,
            static=True,
            REALTIME_STANDIN="off",
            REALTIME_BASE_URL=args.instant_url,
            OPENAI_API_KEY=SERVER_KEY,
            TUTOR_MINTS_PER_MINUTE="1000000000",
            TUTOR_MAX_LIVE_SESSIONS="1000000000",
        )
        from django.conf import settings

        settings.ROOT_URLCONF = "_mint_urls"
        settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
        from accounts.models import User

        run_id = int(time.time())
        args.words = words = 1_000 if args.smoke else 30_000
        args.grades = grades = 100 if args.smoke else 1_000
        started = time.monotonic()
        User.objects.filter(email__endswith="@bench.test").delete()
        big = learner_build(f"big-{run_id}@bench.test", words=words, grades=grades)
        small = learner_build(f"small-{run_id}@bench.test", words=10, grades=0)
        from django.db import connection

        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                # What autovacuum does soon after a bulk load: without it the planner has no
                # idea the learner has 30,000 words and picks plans no running server would.
                cursor.execute("ANALYZE")
        print(
            f"learners: {words:,} words and {grades:,} grades, and 10 words (built in "
            f"{time.monotonic() - started:.1f} s, then ANALYZE); addresses verified, as "
            "production's mandatory verification needs"
        )
        args.counter = QueryCounter()
        learners = ((big, cookies_for(big)), (small, cookies_for(small)))
        args.counter.install()
        asyncio.run(run(args, learners))
    finally:
        for stub in stubs:
            stub.terminate()
            stub.wait()


if __name__ == "__main__":
    main()
