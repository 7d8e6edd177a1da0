"""One self-contained HTML page: plotly.js, the data and the styles inline, nothing loaded from the network."""
import html
from typing import Any, Dict, List, Optional, Sequence, Tuple

from posecls.report.figures import PLOT_CONFIG

STYLE = """
body{font-family:system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;margin:0;color:#222;background:#fff}
header{background:#1f3b57;color:#fff;padding:14px 24px}header h1{margin:0;font-size:20px}
header p{margin:4px 0 0;font-size:13px;opacity:.85}main{padding:8px 24px 40px;max-width:1400px}
h2{font-size:17px;border-bottom:1px solid #ddd;padding-bottom:4px;margin-top:28px}
table{border-collapse:collapse;font-size:13px;margin:8px 0}td,th{border:1px solid #ddd;padding:4px 8px;
text-align:left;vertical-align:top}th{background:#f3f5f7}td.num{text-align:right;font-variant-numeric:tabular-nums}
.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(380px,1fr));gap:12px}
.note{color:#666;font-size:12px}.row{display:flex;flex-wrap:wrap;gap:24px;align-items:flex-start}
"""


def table(headers: Optional[Sequence[str]], rows: Sequence[Sequence[Any]], numeric: Sequence[int] = ()) -> str:
    """An HTML table (no header row for ``headers=None``); cells are escaped, columns in ``numeric`` right-aligned."""
    head = '<thead><tr>' + ''.join(f'<th>{html.escape(str(h))}</th>' for h in headers) + '</tr></thead>' if headers \
        else ''
    body = ''.join('<tr>' + ''.join(f'<td class="num">{html.escape(str(c))}</td>' if i in numeric
                                    else f'<td>{html.escape(str(c))}</td>' for i, c in enumerate(r)) + '</tr>'
                   for r in rows)
    return f'<table>{head}<tbody>{body}</tbody></table>'


def figure(fig: Any, div_id: str, kind: str = 'plot') -> str:
    """A plotly figure (Figure or plain dict) as a div + the script that draws it (plotly.js not included)."""
    import plotly.io as pio
    config = dict(PLOT_CONFIG, displayModeBar=False) if kind == 'animation' else PLOT_CONFIG
    snippet = pio.to_html(fig, full_html=False, include_plotlyjs=False, div_id=div_id, config=config,
                          validate=False, auto_play=False)
    return f'<div class="figure" data-kind="{kind}">{snippet}</div>'


def page(title: str, subtitle: str, sections: List[Tuple[str, str, str]], meta: Optional[Dict[str, Any]] = None) -> str:
    """The whole page.

    Args:
        title: Page title.
        subtitle: Line under the title.
        sections: (anchor id, heading, HTML body) in order.
        meta: Values exposed to scripts as ``window.poseclsReport`` (e.g. the ids of the figures).
    """
    import json

    from plotly.offline import get_plotlyjs
    nav = ' · '.join(f'<a href="#{a}" style="color:#cfe3f7">{html.escape(h)}</a>' for a, h, _ in sections)
    body = ''.join(f'<section id="{a}"><h2>{html.escape(h)}</h2>{b}</section>' for a, h, b in sections)
    info = json.dumps(meta or {}).replace('</', '<\\/')
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f'<title>{html.escape(title)}</title><style>{STYLE}</style>'
            f'<script type="text/javascript">{get_plotlyjs()}</script>'
            f'<script type="text/javascript">window.poseclsReport = {info};</script></head>'
            f'<body><header><h1>{html.escape(title)}</h1><p>{html.escape(subtitle)}</p><p>{nav}</p></header>'
            f'<main>{body}</main></body></html>\n')


__all__ = ['page', 'figure', 'table', 'STYLE']
