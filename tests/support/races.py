"""Writers let go at once, each on its own thread and database connection, as two sockets or
two server processes would be."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TypeVar

from django.db import connection

T = TypeVar("T")


def race(count: int, work: Callable[[int], T]) -> tuple[list[T], list[Exception]]:
    """``work(n)`` for every n below ``count``, all started together on threads of their own:
    what they returned (in the order they finished) and what they raised."""
    barrier = threading.Barrier(count)
    results: list[T] = []
    errors: list[Exception] = []

    def run(n: int) -> None:
        try:
            barrier.wait()
            results.append(work(n))
        except Exception as error:  # noqa: BLE001 - the caller asserts on them
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(n,)) for n in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results, errors
