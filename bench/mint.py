"""Minting a browser key: POST /tutor/token/ against a bare async view that only forwards.

Both run in this process through the real ASGI application (httpx.ASGITransport: the same
middleware, sessions and CSRF check) and call the same upstream stub (a subprocess) through
the same Realtime client. The learner has 10,000 words with progress and 1,000 grades. The
two are timed alternately, one request at a time; then SQL queries per mint are counted for
that learner and for one with 10 words (constant means the same count).

    python bench/mint.py [--smoke] [--samples N] [--database-url URL]
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
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

    learner = User.objects.create_user(
        email=email, password="x", target_language="es", cefr_level="B1"
    )
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

        connections.close_all()
        connection_created.connect(
            lambda sender, connection, **kw: connection.execute_wrappers.append(self), weak=False
        )


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


async def timed_posts(http, plan: list[str], progress: Progress, counter) -> dict[str, list[float]]:
    times: dict[str, list[float]] = {path: [] for path in set(plan)}
    for path in plan:
        started = time.perf_counter()
        response = await http.post(
            path, content=b"{}", headers={"X-CSRFToken": CSRF, "Content-Type": "application/json"}
        )
        elapsed = time.perf_counter() - started
        if response.status_code != 200:
            raise SystemExit(f"{path} answered {response.status_code}: {response.text[:300]}")
        times[path].append(elapsed * 1000)
        if path == "/tutor/token/":
            await settle(counter)
        progress.step()
    return times


async def run(args, learners) -> None:
    import httpx

    from config.asgi import application

    (big, big_cookies), (small, small_cookies) = learners
    transport = httpx.ASGITransport(app=application)
    token, bare = "/tutor/token/", "/bench/bare-forward/"
    async with httpx.AsyncClient(
        transport=transport, base_url="http://127.0.0.1", cookies=big_cookies
    ) as http:
        warm = 3 if args.smoke else 20
        await timed_posts(http, [token, bare] * warm, Progress("warm-up", 2 * warm), args.counter)
        samples = args.samples
        times = await timed_posts(
            http, [token, bare] * samples, Progress("mints (token, bare, alternating)", 2 * samples),
            args.counter,
        )

    print(f"samples: {samples} of each, alternating, one request at a time")
    p50 = figure(
        "p50 latency",
        percentile(times[token], 50),
        percentile(times[bare], 50),
        "ms",
        target="<= 1.2",
    )
    p99 = figure(
        "p99 latency",
        percentile(times[token], 99),
        percentile(times[bare], 99),
        "ms",
        target="<= 1.2",
    )
    print(
        f"mean latency: token {sum(times[token]) / samples:.3f} ms | bare {sum(times[bare]) / samples:.3f} ms"
    )

    counter = args.counter
    per_mint = {}
    big_name = f"{args.words:,} words, {args.grades:,} grades"
    for name, cookies in ((big_name, big_cookies), ("10 words, no grades", small_cookies)):
        async with httpx.AsyncClient(
            transport=transport, base_url="http://127.0.0.1", cookies=cookies
        ) as http:
            rounds = 3 if args.smoke else 10
            before = counter.count
            await timed_posts(http, [token] * rounds, Progress(f"queries ({name})", rounds), counter)
            per_mint[name] = (counter.count - before) / rounds
            before = counter.count
            await timed_posts(http, [bare] * rounds, Progress("queries (bare)", rounds), counter)
            bare_queries = (counter.count - before) / rounds
    if not args.smoke:
        async with httpx.AsyncClient(
            transport=transport, base_url="http://127.0.0.1", cookies=big_cookies
        ) as http:
            counter.recorded = []
            await timed_posts(http, [token], Progress("one mint, statement by statement", 1), counter)
            print("statements of one mint:")
            for n, sql in enumerate(counter.recorded, 1):
                print(f"  {n:2}. {' '.join(sql.split())[:150]}")
            counter.recorded = None
    for name, queries in per_mint.items():
        print(f"SQL queries per mint ({name}): {queries:g} | baseline (bare view) {bare_queries:g}")
    constant = len(set(per_mint.values())) == 1
    worst = max(per_mint.values())
    verdict("p50 ratio <= 1.2", p50 <= 1.2, f"{p50:.2f}")
    verdict("p99 ratio <= 1.2", p99 <= 1.2, f"{p99:.2f}")
    verdict(
        "queries per mint constant and <= 6",
        constant and worst <= 6,
        f"{'constant' if constant else 'not constant'}, {worst:g} per mint",
    )


def main() -> None:
    p = parser(__doc__.splitlines()[0])
    p.add_argument(
        "--samples", type=int, default=0, help="mints of each kind (default 400; 10 with --smoke)"
    )
    args = p.parse_args()
    args.samples = args.samples or (10 if args.smoke else 400)
    header("Minting: POST /tutor/token/ vs a bare forwarding view", args)

    port = free_port()
    stub = subprocess.Popen(
        [sys.executable, os.path.join(os.path.dirname(__file__), "_upstream_stub.py"), str(port)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert stub.stdout.readline().strip() == "ready"
        database_url = bench_database_url(args.database_url)
        print(f"database: {database_url.split('@')[-1]}")
        django_setup(
            database_url,
            REALTIME_STANDIN="off",
            REALTIME_BASE_URL=f"http://127.0.0.1:{port}/v1",
            OPENAI_API_KEY=SERVER_KEY,
            TUTOR_MINTS_PER_MINUTE="1000000000",
            TUTOR_MAX_LIVE_SESSIONS="1000000000",
        )
        from django.conf import settings

        settings.ROOT_URLCONF = "_mint_urls"
        settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
        from accounts.models import User

        run_id = int(time.time())
        args.words = words = 1_000 if args.smoke else 10_000
        args.grades = grades = 100 if args.smoke else 1_000
        started = time.monotonic()
        User.objects.filter(email__endswith="@bench.test").delete()
        big = learner_build(f"big-{run_id}@bench.test", words=words, grades=grades)
        small = learner_build(f"small-{run_id}@bench.test", words=10, grades=0)
        from django.db import connection

        with connection.cursor() as cursor:
            # What autovacuum does soon after a bulk load: without it the planner has no idea
            # the learner has 10,000 words and picks plans no running server would.
            cursor.execute("ANALYZE")
        print(
            f"learner: {words:,} words, {grades:,} grades (built in {time.monotonic() - started:.1f} s, then ANALYZE)"
        )
        args.counter = QueryCounter()
        learners = ((big, cookies_for(big)), (small, cookies_for(small)))
        args.counter.install()
        asyncio.run(run(args, learners))
    finally:
        stub.terminate()
        stub.wait()


if __name__ == "__main__":
    main()
