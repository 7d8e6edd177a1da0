"""posecls registries.

Every registry is a child of the matching mmengine root registry with the scope
``posecls``, so a config that sets ``default_scope = 'posecls'`` finds posecls's
classes first and mmengine's (``SGD``, ``MultiStepLR``, ``CheckpointHook`` ...)
through the parent. ``GRAPHS`` (skeleton layouts) and ``PARTITIONS`` (adjacency
partition strategies) are new, root-level registries.

Registration happens where a class is defined; ``posecls.utils.register_all_modules()``
imports every defining module.
"""
from mmengine.registry import DATA_SAMPLERS as MMENGINE_DATA_SAMPLERS
from mmengine.registry import DATASETS as MMENGINE_DATASETS
from mmengine.registry import EVALUATOR as MMENGINE_EVALUATOR
from mmengine.registry import FUNCTIONS as MMENGINE_FUNCTIONS
from mmengine.registry import HOOKS as MMENGINE_HOOKS
from mmengine.registry import LOG_PROCESSORS as MMENGINE_LOG_PROCESSORS
from mmengine.registry import LOOPS as MMENGINE_LOOPS
from mmengine.registry import METRICS as MMENGINE_METRICS
from mmengine.registry import MODEL_WRAPPERS as MMENGINE_MODEL_WRAPPERS
from mmengine.registry import MODELS as MMENGINE_MODELS
from mmengine.registry import OPTIM_WRAPPER_CONSTRUCTORS as MMENGINE_OPTIM_WRAPPER_CONSTRUCTORS
from mmengine.registry import OPTIM_WRAPPERS as MMENGINE_OPTIM_WRAPPERS
from mmengine.registry import OPTIMIZERS as MMENGINE_OPTIMIZERS
from mmengine.registry import PARAM_SCHEDULERS as MMENGINE_PARAM_SCHEDULERS
from mmengine.registry import RUNNER_CONSTRUCTORS as MMENGINE_RUNNER_CONSTRUCTORS
from mmengine.registry import RUNNERS as MMENGINE_RUNNERS
from mmengine.registry import TRANSFORMS as MMENGINE_TRANSFORMS
from mmengine.registry import VISBACKENDS as MMENGINE_VISBACKENDS
from mmengine.registry import VISUALIZERS as MMENGINE_VISUALIZERS
from mmengine.registry import WEIGHT_INITIALIZERS as MMENGINE_WEIGHT_INITIALIZERS
from mmengine.registry import Registry

SCOPE = 'posecls'

RUNNERS = Registry('runner', parent=MMENGINE_RUNNERS, scope=SCOPE)
RUNNER_CONSTRUCTORS = Registry('runner constructor', parent=MMENGINE_RUNNER_CONSTRUCTORS, scope=SCOPE)
LOOPS = Registry('loop', parent=MMENGINE_LOOPS, scope=SCOPE)
HOOKS = Registry('hook', parent=MMENGINE_HOOKS, scope=SCOPE)
LOG_PROCESSORS = Registry('log_processor', parent=MMENGINE_LOG_PROCESSORS, scope=SCOPE)

DATASETS = Registry('dataset', parent=MMENGINE_DATASETS, scope=SCOPE)
DATA_SAMPLERS = Registry('data sampler', parent=MMENGINE_DATA_SAMPLERS, scope=SCOPE)
TRANSFORMS = Registry('transform', parent=MMENGINE_TRANSFORMS, scope=SCOPE)

MODELS = Registry('model', parent=MMENGINE_MODELS, scope=SCOPE)
MODEL_WRAPPERS = Registry('model_wrapper', parent=MMENGINE_MODEL_WRAPPERS, scope=SCOPE)
WEIGHT_INITIALIZERS = Registry('weight initializer', parent=MMENGINE_WEIGHT_INITIALIZERS, scope=SCOPE)

OPTIMIZERS = Registry('optimizer', parent=MMENGINE_OPTIMIZERS, scope=SCOPE)
OPTIM_WRAPPERS = Registry('optim_wrapper', parent=MMENGINE_OPTIM_WRAPPERS, scope=SCOPE)
OPTIM_WRAPPER_CONSTRUCTORS = Registry(
    'optimizer wrapper constructor', parent=MMENGINE_OPTIM_WRAPPER_CONSTRUCTORS, scope=SCOPE)
PARAM_SCHEDULERS = Registry('parameter scheduler', parent=MMENGINE_PARAM_SCHEDULERS, scope=SCOPE)

METRICS = Registry('metric', parent=MMENGINE_METRICS, scope=SCOPE)
EVALUATOR = Registry('evaluator', parent=MMENGINE_EVALUATOR, scope=SCOPE)

VISUALIZERS = Registry('visualizer', parent=MMENGINE_VISUALIZERS, scope=SCOPE)
VISBACKENDS = Registry('vis_backend', parent=MMENGINE_VISBACKENDS, scope=SCOPE)
FUNCTIONS = Registry('function', parent=MMENGINE_FUNCTIONS, scope=SCOPE)

# New registries: skeleton layouts (classes deriving from SkeletonLayout) and
# partition strategies (functions ``(hop_dis, norm_adj, layout, valid_hop) -> A``).
GRAPHS = Registry('graph layout', scope=SCOPE)
PARTITIONS = Registry('graph partition strategy', scope=SCOPE)

__all__ = [
    'RUNNERS', 'RUNNER_CONSTRUCTORS', 'LOOPS', 'HOOKS', 'LOG_PROCESSORS', 'DATASETS', 'DATA_SAMPLERS',
    'TRANSFORMS', 'MODELS', 'MODEL_WRAPPERS', 'WEIGHT_INITIALIZERS', 'OPTIMIZERS', 'OPTIM_WRAPPERS',
    'OPTIM_WRAPPER_CONSTRUCTORS', 'PARAM_SCHEDULERS', 'METRICS', 'EVALUATOR', 'VISUALIZERS',
    'VISBACKENDS', 'FUNCTIONS', 'GRAPHS', 'PARTITIONS'
]
