"""Charts as inline SVG made on the server: no JavaScript, no build step, and readable by a
screen reader (role="img" with a title and a description; every chart also has its
figures as a table beside it). Every text in them is escaped."""
from __future__ import annotations

from markupsafe import Markup, escape

# colours with enough contrast on white (WCAG AA for the text, 3:1 for the bars)
THIS_YEAR, LAST_YEAR, ACCENT, TEXT, GRID = "#1f5f99", "#8a8a8a", "#b3261e", "#1b1b1b", "#d9d9d9"


def _fmt(value: float, lang: str) -> str:
    text = str(int(value)) if float(value).is_integer() else f"{value:.1f}"
    return text.replace(".", ",") if lang == "sv" else text


# A phone draws the narrow form at about its own width (340 units on ~360 px), so its text
# of 12-13 units stays 12 px or more; the wide form would be halved to 6 px there.
NARROW_WIDTH = 340


def grouped_columns(chart_id: str, title: str, description: str, labels: list[str],
                    series: list[tuple[str, str, list[int]]], lang: str, *,
                    narrow: bool = False) -> Markup:
    """Columns per label (months), one per series (this year, last year), with a legend."""
    width, height, left, bottom, top = 720, 260, 36, 40, 34
    font, small = 12, 12
    if narrow:
        width, height, left, font = NARROW_WIDTH, 240, 30, 13
    plot_w, plot_h = width - left - 10, height - bottom - top
    peak = max([1] + [v for _, _, values in series for v in values])
    group = plot_w / max(1, len(labels))
    bar = group * 0.8 / max(1, len(series))
    parts = [_open(chart_id, title, description, width, height)]
    for tick in _ticks(peak):
        y = top + plot_h - plot_h * tick / peak
        parts.append(f'<line x1="{left}" x2="{width - 10}" y1="{y:.1f}" y2="{y:.1f}" '
                     f'stroke="{GRID}"/><text x="{left - 6}" y="{y + 4:.1f}" '
                     f'text-anchor="end" font-size="{small}" fill="{TEXT}">{tick}</text>')
    for i, label in enumerate(labels):
        x0 = left + i * group + group * 0.1
        for j, (_, colour, values) in enumerate(series):
            value = values[i]
            h = plot_h * value / peak
            parts.append(f'<rect x="{x0 + j * bar:.1f}" y="{top + plot_h - h:.1f}" '
                         f'width="{bar - 1:.1f}" height="{h:.1f}" fill="{colour}">'
                         f'<title>{escape(label)}: {value}</title></rect>')
        parts.append(f'<text x="{left + i * group + group / 2:.1f}" y="{height - bottom + 16}" '
                     f'text-anchor="middle" font-size="{small}" fill="{TEXT}">'
                     f'{escape(label[:3])}</text>')
    for j, (name, colour, _) in enumerate(series):
        x = left + j * (100 if narrow else 140)
        parts.append(f'<rect x="{x}" y="8" width="12" height="12" fill="{colour}"/>'
                     f'<text x="{x + 18}" y="19" font-size="{font}" fill="{TEXT}">{escape(name)}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))


def horizontal_bars(chart_id: str, title: str, description: str,
                    rows: list[tuple[str, float, float | None]], unit: str, lang: str,
                    colour: str = THIS_YEAR, second: str | None = None, *,
                    narrow: bool = False) -> Markup:
    """One bar per row (steps, units); an optional lighter second bar (the 90th percentile)
    drawn behind the first (the median)."""
    if narrow:
        return _narrow_bars(chart_id, title, description, rows, unit, lang, colour, second)
    label_w, width, row_h, top = 260, 720, 28, 34
    height = top + row_h * max(1, len(rows)) + 10
    peak = max([1.0] + [max(a, b or 0) for _, a, b in rows])
    plot_w = width - label_w - 70
    parts = [_open(chart_id, title, description, width, height)]
    if second:
        parts.append(f'<rect x="{label_w}" y="8" width="12" height="12" fill="{colour}"/>'
                     f'<text x="{label_w + 18}" y="18" font-size="12" fill="{TEXT}">'
                     f'{escape(unit)}</text>'
                     f'<rect x="{label_w + 220}" y="8" width="12" height="12" fill="{LAST_YEAR}"/>'
                     f'<text x="{label_w + 238}" y="18" font-size="12" fill="{TEXT}">'
                     f'{escape(second)}</text>')
    for i, (label, value, behind) in enumerate(rows):
        y = top + i * row_h
        parts.append(f'<text x="{label_w - 8}" y="{y + 17}" text-anchor="end" font-size="12" '
                     f'fill="{TEXT}">{escape(label)}</text>')
        if behind is not None:
            parts.append(f'<rect x="{label_w}" y="{y + 4}" width="{plot_w * behind / peak:.1f}" '
                         f'height="18" fill="{LAST_YEAR}"><title>{escape(label)}: '
                         f'{_fmt(behind, lang)}</title></rect>')
        parts.append(f'<rect x="{label_w}" y="{y + 8}" width="{plot_w * value / peak:.1f}" '
                     f'height="10" fill="{colour}"><title>{escape(label)}: {_fmt(value, lang)}'
                     f'</title></rect>')
        shown = max(value, behind or 0)
        parts.append(f'<text x="{label_w + plot_w * shown / peak + 6:.1f}" y="{y + 17}" '
                     f'font-size="12" fill="{TEXT}">{_fmt(value, lang)}'
                     f'{" / " + _fmt(behind, lang) if behind is not None else ""}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))


def _narrow_bars(chart_id: str, title: str, description: str,
                 rows: list[tuple[str, float, float | None]], unit: str, lang: str,
                 colour: str, second: str | None) -> Markup:
    """The phone's form: each row's name on a line of its own above its bar (a name column
    would leave the bars no room), a long name cut with "…" (the table has it whole)."""
    width, row_h, top, font = NARROW_WIDTH, 44, 34 if second else 6, 13
    height = top + row_h * max(1, len(rows)) + 6
    peak = max([1.0] + [max(a, b or 0) for _, a, b in rows])
    plot_w = width - 90                  # room after the longest bar for "12,5 / 30,5"
    parts = [_open(chart_id, title, description, width, height)]
    if second:
        parts.append(f'<rect x="0" y="8" width="12" height="12" fill="{colour}"/>'
                     f'<text x="18" y="19" font-size="{font}" fill="{TEXT}">{escape(unit)}</text>'
                     f'<rect x="150" y="8" width="12" height="12" fill="{LAST_YEAR}"/>'
                     f'<text x="168" y="19" font-size="{font}" fill="{TEXT}">{escape(second)}</text>')
    for i, (label, value, behind) in enumerate(rows):
        y = top + i * row_h
        name = label if len(label) <= 44 else label[:43].rstrip() + "…"
        parts.append(f'<text x="0" y="{y + 14}" font-size="{font}" fill="{TEXT}">'
                     f'{escape(name)}</text>')
        if behind is not None:
            parts.append(f'<rect x="0" y="{y + 20}" width="{plot_w * behind / peak:.1f}" '
                         f'height="18" fill="{LAST_YEAR}"><title>{escape(label)}: '
                         f'{_fmt(behind, lang)}</title></rect>')
        parts.append(f'<rect x="0" y="{y + 24}" width="{plot_w * value / peak:.1f}" height="10" '
                     f'fill="{colour}"><title>{escape(label)}: {_fmt(value, lang)}</title></rect>')
        shown = max(value, behind or 0)
        parts.append(f'<text x="{plot_w * shown / peak + 6:.1f}" y="{y + 34}" font-size="{font}" '
                     f'fill="{TEXT}">{_fmt(value, lang)}'
                     f'{" / " + _fmt(behind, lang) if behind is not None else ""}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))


def _open(chart_id: str, title: str, description: str, width: int, height: int) -> str:
    return (f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" id="{escape(chart_id)}" '
            f'viewBox="0 0 {width} {height}" role="img" '
            f'aria-labelledby="{escape(chart_id)}-title {escape(chart_id)}-desc">'
            f'<title id="{escape(chart_id)}-title">{escape(title)}</title>'
            f'<desc id="{escape(chart_id)}-desc">{escape(description)}</desc>')


def _ticks(peak: int) -> list[int]:
    step = max(1, round(peak / 4))
    return list(range(0, peak + 1, step))
