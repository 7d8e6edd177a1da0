"""TAO PoseClassificationNet compatibility: experiment specs, overrides and the ``posecls`` command.

``posecls <task> -e spec.yaml key=value ...`` validates the spec (:mod:`.spec`,
:mod:`.checks`), maps it onto posecls's mmengine config (:mod:`.to_config`) and
runs the task (:mod:`.tasks`) with the same registries and PoseRunner as the
MMAction-style ``tools/``. Importing this package is cheap (no torch).
"""
from posecls.tao.errors import SpecError, TaskNotAvailable

__all__ = ['SpecError', 'TaskNotAvailable']
