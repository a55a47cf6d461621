"""Tables of a run, for the console (rich) and for bench/RESULTS.md (markdown)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from rich.console import Console
from rich.table import Table

from .measure import Figure
from .report import Ratio, Summary, is_ours, number, own_ratio, ratios, summarise

SCALE = re.compile(r"^(?P<base>.*?)(, (?P<n>\d+) (processes|clients?))?$")


@dataclass(frozen=True)
class Section:
    title: str
    headers: list[str]
    rows: list[list[str]]
    footer: str = ""


def ratio(value: float) -> str:
    return f"{value:.2f}" if value >= 0.1 else f"{value:.2g}"


def ratio_rows(found: list[Ratio]) -> list[list[str]]:
    return [
        [
            r.measure,
            short(r.other),
            f"**{ratio(r.median)}**",
            "-" if len(r.values) < 2 else f"{ratio(min(r.values))}-{ratio(max(r.values))}",
            str(len(r.values)),
        ]
        for r in found
    ]


def short(subject: str) -> str:
    """A subject without its version detail in parentheses."""
    return re.sub(r" \(.*?\)", "", subject)


def own_ratios(figures: list[Figure]) -> list[Ratio]:
    pairs = [
        ("runworkers defaults ÷ its batch 100", "drain, defaults", "drain, batch 100"),
    ]
    pairs += [
        (f"{m.split(' (')[0]} step tasks ÷ plain drain batch 100", m, "drain, batch 100")
        for m in dict.fromkeys(f.measure for f in figures if f.measure.endswith("step tasks"))
    ]
    found = [own_ratio(figures, name, top, bottom) for name, top, bottom in pairs]
    return [r for r in found if r is not None]


def figure_row(s: Summary) -> list[str]:
    wal = "" if s.wal is None else f"{s.wal:,.0f}" + ("" if s.wal_exact else "*")
    return [
        s.measure,
        short(s.subject),
        number(s.median, s.unit),
        s.unit,
        s.spread,
        "" if s.commits is None else f"{s.commits:.3f}",
        wal,
        f"{max(s.loads):.1f}",
        "; ".join(s.notes),
    ]


def scale_rows(summaries: list[Summary]) -> list[list[str]]:
    table: dict[tuple[str, str], dict[str, str]] = {}
    for s in summaries:
        match = SCALE.match(s.measure)
        if match is None or not ("drain" in s.measure or "pgbench" in s.measure):
            continue
        if match["base"] == "drain, batch 1":
            continue
        cell = table.setdefault((short(s.subject), match["base"]), {})
        cell[match["n"] or "1"] = number(s.median, s.unit)
    return [
        [subject, base, *(cells.get(n, "") for n in ("1", "2", "4"))]
        for (subject, base), cells in table.items()
        if len(cells) > 1
    ]


WAL_MEASURES = ("bulk enqueue", "single enqueue", "drain, batch 100")
WAL_LINES = 6


def wal_rows(figures: list[Figure]) -> list[list[str]]:
    """The largest WAL record kinds of each queue's enqueues, batch-100 drain and
    workflows, per job, from the last round that attributed them."""
    last: dict[tuple[str, str], Figure] = {}
    for f in figures:
        wanted = f.measure in WAL_MEASURES or f.measure.endswith("step tasks")
        if wanted and f.cost is not None and f.cost.split and f.jobs:
            last[(f.measure, f.subject)] = f
    rows = []
    for (measure, subject), f in last.items():
        assert f.cost is not None
        top = sorted(f.cost.split.items(), key=lambda item: -item[1][0])[:WAL_LINES]
        for kind, (size, count) in top:
            rows.append([measure, short(subject), kind, f"{size / f.jobs:,.1f}",
                         f"{count / f.jobs:.3f}"])  # fmt: skip
    return rows


def sections(figures: list[Figure], rounds: list[list[str]]) -> list[Section]:
    summaries = summarise(figures)
    first = {m: i for i, m in enumerate(dict.fromkeys(f.measure for f in figures))}
    ordered = sorted(summaries, key=lambda s: (first[s.measure], not is_ours(s.subject)))
    heads = ["measure", "÷", "median", "spread", "rounds"]
    return [
        Section(
            "Ratios: django-pgflow ÷ each peer, per round",
            heads,
            ratio_rows(ratios(figures)),
            "Rates (jobs/s, tasks/s): above 1 we are faster. Latencies: below 1 we are "
            "quicker. Spread: lowest-highest of the per-round ratios.",
        ),
        Section("Our own ratios", heads, ratio_rows(own_ratios(figures))),
        Section(
            "Scale: drain with 1, 2 and 4 processes (jobs/s, DB span)",
            ["queue", "measure", "1", "2", "4"],
            scale_rows(summaries),
            "pgbench: 1, 2, 4 clients looping the bare table's claim and completion.",
        ),
        Section(
            "Figures (median of the rounds)",
            [
                "measure",
                "queue",
                "median",
                "unit",
                "spread",
                "commits/job",
                "WAL B/job",
                "max load",
                "notes",
            ],
            [figure_row(s) for s in ordered],
            "commits/job: xact_commit of the queue's database over the jobs; WAL B/job: "
            "WAL of its relations and transactions (pg_waldump), * = server-wide LSN delta.",
        ),
        Section(
            "Where the WAL goes (last round; largest record kinds per job)",
            ["measure", "queue", "relation, record", "B/job", "records/job"],
            wal_rows(figures),
            "From pg_waldump over the measurement's window, the queue's database only: "
            "a non-HOT UPDATE writes a new tuple and one entry in every index whose "
            "predicate the new row meets.",
        ),
        Section("Rounds", ["round", "load at start", "load at end", "seconds"], rounds),
    ]


def to_console(console: Console, parts: list[Section]) -> None:
    for part in parts:
        table = Table(title=part.title, title_justify="left", caption=part.footer or None)
        for header in part.headers:
            table.add_column(header)
        for row in part.rows:
            table.add_row(*(cell.replace("**", "") for cell in row))
        console.print(table)


def to_markdown(parts: list[Section]) -> str:
    out = []
    for part in parts:
        out += [f"## {part.title}", ""]
        out.append("| " + " | ".join(part.headers) + " |")
        out.append("|" + "|".join("---" for _ in part.headers) + "|")
        out += ["| " + " | ".join(row) + " |" for row in part.rows]
        out += ["", part.footer, ""] if part.footer else [""]
    return "\n".join(out)
