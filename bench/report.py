"""Turn the rounds' figures into medians, spreads and ratios, for the console and for
``bench/RESULTS.md``.

A ratio is always ours ÷ the other, taken round by round (both figures of a round were
measured minutes apart, on the same neighbours), then summarised by the median of the
rounds and their spread (lowest-highest). For rates, above 1 means we are faster; for
latencies and times, below 1 means we are quicker.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from .measure import Figure

OURS = "django-pgflow"


@dataclass(frozen=True)
class Summary:
    subject: str
    measure: str
    unit: str
    values: list[float]  # one per round
    loads: list[float]
    commits: float | None  # per job, median of the rounds
    wal: float | None  # bytes per job, median
    wal_exact: bool
    notes: list[str]

    @property
    def median(self) -> float:
        return statistics.median(self.values)

    @property
    def spread(self) -> str:
        return spread(self.values, self.unit)


@dataclass(frozen=True)
class Ratio:
    measure: str
    ours: str
    other: str
    values: list[float]

    @property
    def median(self) -> float:
        return statistics.median(self.values)


def is_ours(subject: str) -> bool:
    return subject.startswith(OURS)


def number(value: float, unit: str) -> str:
    if unit in ("ms", "s", "µs") or value < 100:
        return f"{value:,.2f}" if value < 10 else f"{value:,.1f}"
    return f"{value:,.0f}"


def spread(values: list[float], unit: str = "") -> str:
    if len(values) < 2:
        return "-"
    return f"{number(min(values), unit)}-{number(max(values), unit)}"


def median_of(values: Iterable[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return statistics.median(present) if present else None


def wal_median(group: list[Figure]) -> float | None:
    """WAL bytes per job: the median of the rounds read with pg_waldump, when any were;
    a server-wide LSN delta counts the neighbours' WAL too."""
    exact = [f.wal_per_job for f in group if f.cost and f.cost.wal_exact]
    return median_of(exact) if exact else median_of(f.wal_per_job for f in group)


def summarise(figures: list[Figure]) -> list[Summary]:
    groups: dict[tuple[str, str], list[Figure]] = defaultdict(list)
    for figure in figures:
        groups[(figure.measure, figure.subject)].append(figure)
    return [
        Summary(
            subject,
            measure,
            group[0].unit,
            [f.value for f in group],
            [f.load for f in group],
            median_of(f.commits_per_job for f in group),
            median_of(f.wal_per_job for f in group),
            all(f.cost.wal_exact for f in group if f.cost),
            sorted({note for f in group for note in f.notes}),
        )
        for (measure, subject), group in groups.items()
    ]


def ratios(figures: list[Figure]) -> list[Ratio]:
    """Ours ÷ each other subject, per measure, round by round."""
    by_key = {(f.measure, f.subject, f.round): f.value for f in figures}
    measures = dict.fromkeys(f.measure for f in figures)
    found = []
    for measure in measures:
        subjects = dict.fromkeys(f.subject for f in figures if f.measure == measure)
        mine = [s for s in subjects if is_ours(s)]
        for ours in mine:
            for other in (s for s in subjects if not is_ours(s)):
                values = paired(by_key, (measure, ours), (measure, other))
                if values:
                    found.append(Ratio(measure, ours, other, values))
    return found


def paired(
    by_key: dict[tuple[str, str, int], float], a: tuple[str, str], b: tuple[str, str]
) -> list[float]:
    """a ÷ b for every round that has both."""
    rounds = sorted({r for (m, s, r) in by_key if (m, s) in (a, b)})
    return [
        by_key[(*a, r)] / by_key[(*b, r)]
        for r in rounds
        if (*a, r) in by_key and (*b, r) in by_key and by_key[(*b, r)]
    ]


def own_ratio(figures: list[Figure], name: str, top: str, bottom: str) -> Ratio | None:
    """A ratio between two of our own measures (say, defaults ÷ batch 100)."""
    by_key = {(f.measure, f.subject, f.round): f.value for f in figures if is_ours(f.subject)}
    subject = next((f.subject for f in figures if is_ours(f.subject)), OURS)
    values = paired(by_key, (top, subject), (bottom, subject))
    return Ratio(name, f"{top}", f"{bottom}", values) if values else None
