"""The temperature chart of a case page: an SVG drawn here, so that it needs no script, no
library in the browser, and prints as it is shown (lines and dots, no colour needed)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from xml.sax.saxutils import escape

from markupsafe import Markup

WIDTH, HEIGHT = 720, 260
LEFT, RIGHT, TOP, BOTTOM = 48, 16, 16, 36  # margins for the axes' labels
LOWEST, HIGHEST = Decimal("35.0"), Decimal("41.0")  # widened when a value lies outside


@dataclass(frozen=True)
class Point:
    day: date
    temperature: Decimal | None  # None: a report without a temperature


@dataclass(frozen=True)
class ChartText:
    title: str  # e.g. "Temperature over the quarantine"
    limit: str  # e.g. "alert above 37.9 °C"
    no_values: str  # e.g. "No temperature reported yet."
    day: str  # e.g. "Day {n}"


def temperature_chart(
    points: Sequence[Point],
    start: date,
    end: date,
    limit: Decimal | None,
    text: ChartText,
    decimal: str = ".",
) -> Markup:
    """The chart from the quarantine's first to its last day; ``limit`` a dashed line."""
    days = max((end - start).days + 1, 1)
    values = [p.temperature for p in points if p.temperature is not None]
    low = min([LOWEST, *values]).to_integral_value(rounding="ROUND_FLOOR")
    high = max([HIGHEST, *values]).to_integral_value(rounding="ROUND_CEILING")
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def x(day: date, offset: float = 0.5) -> float:
        return LEFT + plot_w * (((day - start).days + offset) / days)

    def y(value: Decimal) -> float:
        return TOP + plot_h * float((high - value) / (high - low))

    parts = [
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'aria-labelledby="chart-title" xmlns="http://www.w3.org/2000/svg">',
        f'<title id="chart-title">{escape(text.title)}</title>',
        f'<rect class="frame" x="{LEFT}" y="{TOP}" width="{plot_w}" height="{plot_h}"/>',
    ]
    degree = low
    while degree <= high:  # one line and label per degree
        level = y(degree)
        label = str(degree).replace(".", decimal)
        parts.append(
            f'<line class="grid" x1="{LEFT}" x2="{LEFT + plot_w}" y1="{level:.1f}" '
            f'y2="{level:.1f}"/>'
        )
        parts.append(
            f'<text class="axis" x="{LEFT - 6}" y="{level + 4:.1f}" '
            f'text-anchor="end">{escape(label)}</text>'
        )
        degree += 1
    step = 1 if days <= 16 else 2 if days <= 32 else 7
    for n in range(0, days, step):  # day numbers along the bottom
        day = date.fromordinal(start.toordinal() + n)
        parts.append(
            f'<text class="axis" x="{x(day):.1f}" y="{HEIGHT - 14}" '
            f'text-anchor="middle">{n + 1}</text>'
        )
    parts.append(
        f'<text class="axis" x="{LEFT}" y="{HEIGHT - 2}">{escape(text.day.format(n=""))}</text>'
    )
    if limit is not None and low < limit < high:
        level = y(limit)
        parts.append(
            f'<line class="limit" x1="{LEFT}" x2="{LEFT + plot_w}" y1="{level:.1f}" '
            f'y2="{level:.1f}"/>'
        )
        parts.append(
            f'<text class="limit-label" x="{LEFT + plot_w - 4}" y="{level - 5:.1f}" '
            f'text-anchor="end">{escape(text.limit)}</text>'
        )
    by_day: dict[date, list[Point]] = {}
    for point in points:
        by_day.setdefault(point.day, []).append(point)
    line: list[str] = []
    markers: list[str] = []  # drawn over the line that joins them
    for day in sorted(by_day):
        same = by_day[day]
        for i, point in enumerate(same):  # two prompts a day: side by side within the day
            offset = (i + 1) / (len(same) + 1)
            if point.temperature is None:
                markers.append(
                    f'<line class="report" x1="{x(day, offset):.1f}" '
                    f'x2="{x(day, offset):.1f}" y1="{TOP + plot_h - 8}" '
                    f'y2="{TOP + plot_h}"/>'
                )
                continue
            cx, cy = x(day, offset), y(point.temperature)
            line.append(f"{cx:.1f},{cy:.1f}")
            over = limit is not None and point.temperature > limit
            shown = str(point.temperature).replace(".", decimal)
            markers.append(
                f'<circle class="value{" over" if over else ""}" cx="{cx:.1f}" '
                f'cy="{cy:.1f}" r="4"><title>{escape(shown)} °C</title></circle>'
            )
    if len(line) > 1:
        parts.append(f'<polyline class="trend" points="{" ".join(line)}"/>')
    parts.extend(markers)
    if not values:
        parts.append(
            f'<text class="empty" x="{LEFT + plot_w / 2}" y="{TOP + plot_h / 2}" '
            f'text-anchor="middle">{escape(text.no_values)}</text>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))
