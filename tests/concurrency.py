"""Running one call from several threads at once, for the race tests."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def race(call: Callable[[], T], threads: int) -> list[T]:
    """Start ``threads`` threads that each run ``call`` once, wait for all; their results (in finishing
    order). An exception in a thread fails the test."""
    results: list[T] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            results.append(call())
        except BaseException as exc:  # noqa: BLE001 - re-raised below in the test's thread
            errors.append(exc)

    started = [threading.Thread(target=run) for _ in range(threads)]
    for t in started:
        t.start()
    for t in started:
        t.join()
    if errors:
        raise errors[0]
    return results
