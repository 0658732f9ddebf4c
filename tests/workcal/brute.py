"""Independent references for the working calendar: the package's schedule as exception days,
and a minute-by-minute count of working time that knows nothing of the span table."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from chinese_calendar import constants

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
SHANGHAI = ZoneInfo("Asia/Shanghai")
OFFICE = ((8 * 60, 12 * 60), (14 * 60, 18 * 60))
PACKAGE_YEARS = range(min(constants.holidays).year, max(constants.holidays).year + 1)

# A hypothetical 2027 schedule, as an admin would enter it in November 2026 (Spring Festival 2027:
# 6 February). Holidays are the weekdays off, workdays the weekend days worked.
ADMIN_2027 = {
    **{date(2027, 2, d): "holiday" for d in (5, 8, 9, 10, 11, 12)},
    date(2027, 2, 20): "workday",
    **{date(2027, 10, d): "holiday" for d in (1, 4, 5, 6, 7)},
    date(2027, 9, 26): "workday",
    date(2027, 10, 9): "workday",
}


def package_exceptions() -> dict[date, str]:
    out = {d: "holiday" for d in constants.holidays if d.weekday() < 5}
    out.update({d: "workday" for d in constants.workdays if d.weekday() >= 5})
    return out


def minute_of(moment: datetime) -> int:
    return int((moment - EPOCH).total_seconds() // 60)


def at_minute(minute: int) -> datetime:
    return EPOCH + timedelta(minutes=minute)


class Brute:
    """Working minutes the slow way: each minute converted to local time and checked."""

    def __init__(self, exceptions: dict[date, str], office=OFFICE, tz: ZoneInfo = SHANGHAI) -> None:
        self.exceptions = exceptions
        self.office = office
        self.tz = tz

    def working_day(self, day: date) -> bool:
        kind = self.exceptions.get(day)
        if kind == "holiday":
            return False
        return kind == "workday" or day.weekday() < 5

    def working(self, minute: int) -> bool:
        local = at_minute(minute).astimezone(self.tz)
        if not self.working_day(local.date()):
            return False
        of_day = local.hour * 60 + local.minute
        return any(a <= of_day < b for a, b in self.office)

    def deadline(self, start: int, minutes: int) -> int:
        """The end of the `minutes`-th working minute at or after `start`."""
        if minutes == 0:
            return start
        count, t = 0, start
        while True:
            if self.working(t):
                count += 1
                if count == minutes:
                    return t + 1
            t += 1

    def count(self, start: int, end: int) -> int:
        return sum(1 for t in range(start, end) if self.working(t))
