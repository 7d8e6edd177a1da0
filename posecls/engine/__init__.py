"""Training engine: runner, hooks, optimizer wrappers and schedulers."""
from .hooks import *  # noqa: F401,F403
from .launcher import DeviceSelection, launch, select_devices, torchrun_command  # noqa: F401
from .optim_wrappers import *  # noqa: F401,F403
from .runner import *  # noqa: F401,F403
from .schedulers import *  # noqa: F401,F403
