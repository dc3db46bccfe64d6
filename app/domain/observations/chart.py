"""The observation chart as inline SVG, drawn on the server: one small panel per parameter and
one for the NEWS2 total, sharing a time axis. Pure: points in, markup out (no scripts, no
styles, only presentation attributes, so the page's CSP holds and it prints as it shows)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from html import escape

WIDTH, HEIGHT = 760, 130
LEFT, RIGHT, TOP, BOTTOM = 48, 12, 18, 22


@dataclass(frozen=True)
class Panel:
    key: str
    title: str
    unit: str
    low: float  # the y axis
    high: float
    normal: tuple[float, float] | None  # NEWS2's 0-point range, shaded


PANELS = (
    Panel("respiratory_rate", "Respiration rate", "/min", 0, 40, (12, 20)),
    Panel("spo2", "SpO₂", "%", 80, 100, (96, 100)),
    Panel("blood_pressure", "Blood pressure", "mmHg", 40, 240, (111, 219)),
    Panel("pulse", "Pulse", "/min", 30, 160, (51, 90)),
    Panel("temperature", "Temperature", "°C", 34, 41, (36.1, 38.0)),
    Panel("news2", "NEWS2 total", "", 0, 20, (0, 4)),
)

Point = tuple[datetime, float]


def _x(t: datetime, start: datetime, end: datetime) -> float:
    span = (end - start).total_seconds() or 1.0
    return LEFT + (WIDTH - LEFT - RIGHT) * ((t - start).total_seconds() / span)


def _y(v: float, panel: Panel) -> float:
    lo, hi = panel.low, panel.high
    v = min(max(v, lo), hi)  # off-scale values sit on the edge (the table has the value)
    return TOP + (HEIGHT - TOP - BOTTOM) * (1 - (v - lo) / (hi - lo))


def _fmt(v: float) -> str:
    return f"{v:.1f}".rstrip("0").rstrip(".")


def panel_svg(panel: Panel, series: Sequence[Sequence[Point]], start: datetime, end: datetime,
              labels: tuple[str, str], colours: Sequence[str] = ("#0d6efd", "#6c757d")) -> str:
    """One panel: the normal band, the axis values, and each series as a line with dots."""
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="vitals-chart" viewBox="0 0 {WIDTH} {HEIGHT}" '
        f'width="100%" role="img" aria-label="{escape(panel.title)}" data-panel="{panel.key}">',
        f'<title>{escape(panel.title)}</title>',
        f'<text x="{LEFT}" y="12" font-size="11" font-weight="bold" fill="#212529">'
        f'{escape(panel.title)}{" (" + escape(panel.unit) + ")" if panel.unit else ""}</text>',
        f'<rect x="{LEFT}" y="{TOP}" width="{WIDTH - LEFT - RIGHT}" height="{HEIGHT - TOP - BOTTOM}" '
        'fill="none" stroke="#adb5bd" stroke-width="1"/>',
    ]
    if panel.normal is not None:
        y1, y2 = _y(panel.normal[1], panel), _y(panel.normal[0], panel)
        parts.append(f'<rect x="{LEFT}" y="{y1:.1f}" width="{WIDTH - LEFT - RIGHT}" height="{y2 - y1:.1f}" '
                     'fill="#d1e7dd" fill-opacity="0.6"/>')
    for v in (panel.low, panel.high):
        parts.append(f'<text x="{LEFT - 4}" y="{_y(v, panel) + 4:.1f}" font-size="10" text-anchor="end" '
                     f'fill="#6c757d">{_fmt(v)}</text>')
    parts.append(f'<text x="{LEFT}" y="{HEIGHT - 6}" font-size="10" fill="#6c757d">{escape(labels[0])}</text>')
    parts.append(f'<text x="{WIDTH - RIGHT}" y="{HEIGHT - 6}" font-size="10" text-anchor="end" '
                 f'fill="#6c757d">{escape(labels[1])}</text>')
    for points, colour in zip(series, colours, strict=False):
        if not points:
            continue
        coords = [(_x(t, start, end), _y(v, panel), v) for t, v in points]
        if len(coords) > 1:
            path = " ".join(f"{x:.1f},{y:.1f}" for x, y, _ in coords)
            parts.append(f'<polyline points="{path}" fill="none" stroke="{colour}" stroke-width="2"/>')
        for x, y, v in coords:
            parts.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{colour}"><title>{_fmt(v)}</title></circle>')
    parts.append("</svg>")
    return "".join(parts)


def series_for(sets: Sequence[tuple[datetime, dict[str, Decimal | str], int | None]]) -> dict[str, list[list[Point]]]:
    """Points per panel from (taken_at, values by field, NEWS2 total) rows, oldest first. A
    set without a value simply has no point there; an incomplete set no NEWS2 point."""
    out: dict[str, list[list[Point]]] = {p.key: [[], []] for p in PANELS}
    for taken, values, total in sets:
        for key in ("respiratory_rate", "spo2", "pulse", "temperature"):
            v = values.get(key)
            if v is not None and not isinstance(v, str):
                out[key][0].append((taken, float(v)))
        for i, key in enumerate(("systolic", "diastolic")):
            v = values.get(key)
            if v is not None and not isinstance(v, str):
                out["blood_pressure"][i].append((taken, float(v)))
        if total is not None:
            out["news2"][0].append((taken, float(total)))
    return out


def chart_svgs(sets: Sequence[tuple[datetime, dict[str, Decimal | str], int | None]], start: datetime,
               end: datetime, labels: tuple[str, str]) -> list[tuple[Panel, str]]:
    """Every panel's SVG for the sets between start and end."""
    series = series_for(sets)
    return [(p, panel_svg(p, series[p.key], start, end, labels,
                          ("#dc3545", "#fd7e14") if p.key == "blood_pressure" else ("#0d6efd",)))
            for p in PANELS]
