"""Closed forms of mmengine's common schedules: the value a schedule has at its current step.

mmengine computes most schedules incrementally (each value from the previous one), so
a schedule whose definition changes mid-run (a resumed run with a longer cosine) cannot
be continued from its current value. With these closed forms PoseRunner rebuilds it:
the value is the new schedule's at the resumed step.
"""
import bisect
import math
from typing import Any, Callable, Dict, List, Optional


def _cosine(s: Any, base: float, t: int) -> float:
    eta_min = s.eta_min if getattr(s, 'eta_min_ratio', None) is None else base * s.eta_min_ratio
    return eta_min + (base - eta_min) * (1 + math.cos(math.pi * t / s.T_max)) / 2


def _linear(s: Any, base: float, t: int) -> float:
    frac = min(t, s.total_iters) / s.total_iters if s.total_iters else 1.0
    return base * (s.start_factor + (s.end_factor - s.start_factor) * frac)


def _multistep(s: Any, base: float, t: int) -> float:
    return base * s.gamma ** bisect.bisect_right(sorted(s.milestones.elements()), t)


def _step(s: Any, base: float, t: int) -> float:
    return base * s.gamma ** (t // s.step_size)


def _exponential(s: Any, base: float, t: int) -> float:
    return base * s.gamma ** t


def _constant(s: Any, base: float, t: int) -> float:
    return base * (s.factor if t < s.total_iters else 1.0)


#: class name -> f(scheduler, base value, step) for the LR / momentum / param variants of each schedule
CLOSED_FORMS: Dict[str, Callable[[Any, float, int], float]] = {}
for _name, _fn in (('CosineAnnealing', _cosine), ('Linear', _linear), ('MultiStep', _multistep), ('Step', _step),
                   ('Exponential', _exponential), ('Constant', _constant)):
    for _suffix in ('LR', 'Momentum', 'ParamScheduler'):
        CLOSED_FORMS[_name + _suffix] = _fn


def closed_form_values(scheduler: Any) -> Optional[List[float]]:
    """The values of ``scheduler`` at its ``last_step`` for every parameter group (None: no closed form known)."""
    fn = CLOSED_FORMS.get(type(scheduler).__name__)
    if fn is None or scheduler.last_step < 0:
        return None
    return [fn(scheduler, base, scheduler.last_step) for base in scheduler.base_values]


__all__ = ['CLOSED_FORMS', 'closed_form_values']
