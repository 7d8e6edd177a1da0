"""The report's plots (plotly figures, drawn by plotly.js in the page): curves, confusion matrix, per-class scores."""
from typing import Any, Dict, List, Optional, Sequence

import numpy as np

#: plotly.js options of every figure: no logo, no link to an online editor
PLOT_CONFIG = dict(displaylogo=False, responsive=True, topojsonURL='')


def _val(record: Dict[str, Any], *keys: str) -> Optional[float]:
    val = record.get('val') or {}
    for k in keys:
        if isinstance(val.get(k), (int, float)):
            return float(val[k])
    return None


def training_curves(history: Sequence[Dict[str, Any]]):
    """Per-epoch train loss, validation loss, validation accuracy and learning rate (three panels).

    Args:
        history: ``training_history.json`` records (``epoch``, ``lr``, ``train_loss``, ``val``).

    Returns:
        plotly.graph_objects.Figure, or None for an empty history.
    """
    if not history:
        return None
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    epochs = [r['epoch'] for r in history]
    fig = make_subplots(rows=1, cols=3, subplot_titles=('loss', 'validation accuracy (%)', 'learning rate'),
                        horizontal_spacing=0.08)
    fig.add_trace(go.Scatter(x=epochs, y=[r.get('train_loss') for r in history], name='train loss',
                             mode='lines+markers'), row=1, col=1)
    val_epochs = [r['epoch'] for r in history if r.get('val')]
    val = [r for r in history if r.get('val')]
    fig.add_trace(go.Scatter(x=val_epochs, y=[_val(r, 'loss', 'val_loss') for r in val], name='val loss',
                             mode='lines+markers'), row=1, col=1)
    for key, name, dash in (('acc/top1', 'val top-1', 'solid'), ('acc/mean1', 'val mean class', 'dash')):
        ys = [None if _val(r, key) is None else 100 * _val(r, key) for r in val]
        fig.add_trace(go.Scatter(x=val_epochs, y=ys, name=name, mode='lines+markers', line=dict(dash=dash)),
                      row=1, col=2)
    fig.add_trace(go.Scatter(x=epochs, y=[r.get('lr') for r in history], name='lr', mode='lines+markers',
                             line=dict(shape='hv')), row=1, col=3)
    fig.update_yaxes(type='log', dtick=1, row=1, col=3)
    fig.update_xaxes(title_text='epoch', tick0=1, dtick=max(1, round(len(epochs) / 10)))
    fig.update_layout(height=340, margin=dict(l=50, r=20, t=40, b=40), legend=dict(orientation='h', y=-0.25))
    return fig


def confusion_matrix_figure(cm: np.ndarray, classes: Sequence[str]):
    """Row-normalised heat map with the counts written in the cells (rows: ground truth)."""
    import plotly.graph_objects as go

    cm = np.asarray(cm, dtype=np.int64)
    with np.errstate(invalid='ignore', divide='ignore'):
        norm = cm / np.maximum(cm.sum(axis=1, keepdims=True), 1)
    names = [str(c) for c in classes]
    fig = go.Figure(go.Heatmap(
        z=norm.round(4).tolist(), x=names, y=names, text=cm.tolist(), texttemplate='%{text}', colorscale='Blues',
        zmin=0, zmax=1, colorbar=dict(title='row %', tickformat='.0%'),
        hovertemplate='true %{y}<br>predicted %{x}<br>%{text} samples (%{z:.1%} of the row)<extra></extra>'))
    size = max(360, 40 * len(names) + 200)
    fig.update_layout(height=size, width=size + 120, margin=dict(l=120, r=20, t=30, b=120),
                      xaxis=dict(title='predicted', tickangle=-45), yaxis=dict(title='ground truth',
                                                                                autorange='reversed'))
    return fig


def per_class_figure(stats: Dict[str, np.ndarray], classes: Sequence[str]):
    """Grouped bars: precision, recall and F1 (%) of every class."""
    import plotly.graph_objects as go

    names = [str(c) for c in classes]
    fig = go.Figure()
    for key in ('precision', 'recall', 'f1'):
        ys: List[Optional[float]] = [None if np.isnan(v) else round(100 * float(v), 2) for v in stats[key]]
        fig.add_trace(go.Bar(x=names, y=ys, name=key))
    fig.update_layout(barmode='group', height=340, yaxis=dict(title='%', range=[0, 105]),
                      margin=dict(l=50, r=20, t=20, b=100), legend=dict(orientation='h', y=1.1))
    return fig


__all__ = ['training_curves', 'confusion_matrix_figure', 'per_class_figure', 'PLOT_CONFIG']
