"""Scheduled slots: the trigger's latest fire time at or before now, in the scheduler's time zone."""

from datetime import UTC, datetime

from risk_engine.scheduler import ScheduledJob, latest_slot


def job(cron: str) -> ScheduledJob:
    return ScheduledJob("test", lambda db, **_: None, cron, "test")


def test_a_daily_beijing_slot_is_the_previous_utc_evening():
    now = datetime(2026, 3, 1, 10, 0, tzinfo=UTC)  # 18:00 in Beijing
    assert latest_slot(job("30 0 * * *"), now, "Asia/Shanghai") == datetime(2026, 2, 28, 16, 30, tzinfo=UTC)


def test_a_firing_a_little_late_still_names_its_own_slot():
    on_time = datetime(2026, 2, 28, 16, 30, tzinfo=UTC)
    assert latest_slot(job("30 0 * * *"), on_time, "Asia/Shanghai") == on_time
    late = datetime(2026, 2, 28, 16, 59, 59, tzinfo=UTC)
    assert latest_slot(job("30 0 * * *"), late, "Asia/Shanghai") == on_time


def test_an_hourly_slot_and_a_leap_day():
    now = datetime(2028, 2, 29, 23, 14, tzinfo=UTC)
    assert latest_slot(job("15 * * * *"), now, "Asia/Shanghai") == datetime(2028, 2, 29, 22, 15, tzinfo=UTC)
    assert latest_slot(job("0 0 29 2 *"), datetime(2028, 2, 29, 1, tzinfo=UTC), "UTC") == datetime(
        2028, 2, 29, tzinfo=UTC
    )
