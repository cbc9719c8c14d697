"""Server-side SVG charts: geometry computed here, drawn by templates/dashboard/_chart.svg.

No JavaScript and no charting library to vendor: the numbers become coordinates
on the server and the template prints an ``<svg>`` that scales with the page.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

WIDTH, HEIGHT = 800, 240
LEFT, RIGHT, TOP, BOTTOM = 48, 24, 14, 28

COLORS = {
    "received": "#2563eb",
    "delivered": "#16a34a",
    "relayed": "#0891b2",
    "deferred": "#d97706",
    "bounced": "#dc2626",
    "rejected": "#7c3aed",
}


@dataclass
class Line:
    name: str
    color: str
    points: str
    total: int


@dataclass
class Bar:
    name: str
    color: str
    x: float
    y: float
    width: float
    height: float
    value: int
    label_x: float


@dataclass
class Tick:
    pos: float
    label: str


@dataclass
class Chart:
    title: str
    width: int = WIDTH
    height: int = HEIGHT
    lines: list[Line] = field(default_factory=list)
    bars: list[Bar] = field(default_factory=list)
    yticks: list[Tick] = field(default_factory=list)
    xticks: list[Tick] = field(default_factory=list)
    left: int = LEFT
    right_edge: int = WIDTH - RIGHT
    top: int = TOP
    baseline: int = HEIGHT - BOTTOM


def nice_max(value: int) -> int:
    """A round upper bound (1, 2, 5 × 10^n) at or above ``value``, at least 4."""
    if value <= 4:
        return 4
    magnitude = 10 ** int(math.floor(math.log10(value)))
    for factor in (1, 2, 5, 10):
        if factor * magnitude >= value:
            return factor * magnitude
    return 10 * magnitude  # pragma: no cover


def _y(value: int, top_value: int) -> float:
    span = HEIGHT - BOTTOM - TOP
    return round(HEIGHT - BOTTOM - span * value / top_value, 1)


def _yticks(top_value: int) -> list[Tick]:
    """Gridlines at whole, round steps: fifths of 10, 20, 50 …, quarters of 4."""
    parts = 5 if top_value % 5 == 0 else 4
    return [Tick(_y(top_value * i // parts, top_value), str(top_value * i // parts)) for i in range(parts + 1)]


def line_chart(title: str, labels: list[str], series: dict[str, list[int]], every: int = 1) -> Chart:
    """One line per series over ``labels`` (every ``every``-th label printed)."""
    top_value = nice_max(max((max(v) for v in series.values() if v), default=0))
    count = max(len(labels), 1)
    span = WIDTH - LEFT - RIGHT
    step = span / max(count - 1, 1)

    def x(i: int) -> float:
        return round(LEFT + i * step, 1)

    chart = Chart(title=title, yticks=_yticks(top_value))
    chart.xticks = [Tick(x(i), label) for i, label in enumerate(labels) if (count - 1 - i) % every == 0]
    for name, values in series.items():
        points = " ".join(f"{x(i)},{_y(v, top_value)}" for i, v in enumerate(values))
        chart.lines.append(Line(name, COLORS.get(name, "#555"), points, sum(values)))
    return chart


def bar_chart(title: str, values: dict[str, int]) -> Chart:
    """One bar per key, labelled with its name and value."""
    top_value = nice_max(max(values.values(), default=0))
    count = max(len(values), 1)
    slot = (WIDTH - LEFT - RIGHT) / count
    chart = Chart(title=title, yticks=_yticks(top_value))
    for i, (name, value) in enumerate(values.items()):
        y = _y(value, top_value)
        x = LEFT + i * slot + slot * 0.15
        chart.bars.append(
            Bar(
                name=name,
                color=COLORS.get(name, "#555"),
                x=round(x, 1),
                y=y,
                width=round(slot * 0.7, 1),
                height=round(HEIGHT - BOTTOM - y, 1),
                value=value,
                label_x=round(LEFT + (i + 0.5) * slot, 1),
            )
        )
        chart.xticks.append(Tick(round(LEFT + (i + 0.5) * slot, 1), name))
    return chart
