"""Charts of the indicators drawn on the server as SVG: no script, no library, nothing loaded from
outside, so the Indicators page works offline and prints. Horizontal bars, one group of bars per
line of the table (a place or a month), one bar per series or split value; right to left for
Arabic and Kurdish (the bars grow from the right, the labels sit on the right)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

PALETTE = ("#1f6f8b", "#e07a2e", "#5b8c3a", "#8d5aa6", "#c9404c", "#c8a12b", "#4f6d7a",
           "#a0522d", "#2e8b57", "#6a5acd", "#708090", "#b8860b")
LABEL_WIDTH, BAR_AREA, BAR, GAP, VALUE_WIDTH = 180, 380, 14, 10, 60


@dataclass(frozen=True)
class Bar:
    series: int  # its index in the legend
    value: float | None
    text: str  # what is written at its end: the number, "<5"


@dataclass(frozen=True)
class Line:
    label: str
    bars: Sequence[Bar]


def bar_chart(title: str, lines: Sequence[Line], legend: Sequence[str], *, rtl: bool,
              number=str) -> Markup:
    """An accessible SVG (role img, a title) of `lines`; `number` formats the axis' maximum."""
    biggest = max((b.value for line in lines for b in line.bars if b.value), default=0) or 1
    width = LABEL_WIDTH + BAR_AREA + VALUE_WIDTH
    height_of = [max(1, len(line.bars)) * BAR + GAP for line in lines]
    legend_height = 20 * ((len(legend) + 2) // 3) if len(legend) > 1 else 0
    height = sum(height_of) + legend_height + 10
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" '
             f'viewBox="0 0 {width} {height}" width="100%" direction="{"rtl" if rtl else "ltr"}"'
             f'><title>{escape(title)}</title>']
    y = 0
    for line, line_height in zip(lines, height_of, strict=True):
        label_x = width - 4 if rtl else LABEL_WIDTH - 6
        parts.append(f'<text x="{label_x}" y="{y + line_height / 2 + 4:.1f}" '
                     f'text-anchor="{"start" if rtl else "end"}" class="label">'
                     f'{escape(_short(line.label))}</text>')
        for n, bar in enumerate(line.bars):
            length = BAR_AREA * (bar.value or 0) / biggest
            top = y + n * BAR + 1
            x = width - LABEL_WIDTH - length if rtl else LABEL_WIDTH
            colour = PALETTE[bar.series % len(PALETTE)]
            parts.append(f'<rect x="{x:.1f}" y="{top}" width="{length:.1f}" height="{BAR - 3}" '
                         f'fill="{colour}"><title>{escape(legend[bar.series])}: '
                         f'{escape(bar.text)}</title></rect>')
            end = x - 4 if rtl else x + length + 4
            # "start" follows the direction: away from the bar on either side
            parts.append(f'<text x="{end:.1f}" y="{top + BAR - 4}" class="value" '
                         f'text-anchor="start">{escape(bar.text)}</text>')
        y += line_height
    if len(legend) > 1:
        for n, name in enumerate(legend):
            row, column = divmod(n, 3)
            x = width - 14 - column * (width // 3) if rtl else 4 + column * (width // 3)
            top = y + 6 + row * 20
            box = x - 10 if rtl else x
            parts.append(f'<rect x="{box}" y="{top}" width="10" height="10" '
                         f'fill="{PALETTE[n % len(PALETTE)]}"/>')
            text_x = x - 14 if rtl else x + 14
            parts.append(f'<text x="{text_x}" y="{top + 9}" class="legend" '
                         f'text-anchor="start">{escape(_short(name))}</text>')
    parts.append(f'<desc>{escape(number(biggest))}</desc></svg>')
    return Markup("".join(parts))


def _short(text: str, limit: int = 28) -> str:
    return text if len(text) <= limit else text[:limit - 1] + "…"
