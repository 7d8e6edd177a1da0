"""Training engine: runner, hooks and schedulers."""
from .hooks import *  # noqa: F401,F403
from .runner import *  # noqa: F401,F403
from .schedulers import *  # noqa: F401,F403
