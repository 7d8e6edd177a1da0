"""Console scripts: ``posecls-<tool>`` runs ``tools/<tool>.py`` (underscores become hyphens), from any directory.

=========================  ===============================================
``posecls-train``          ``tools/train.py``
``posecls-test``           ``tools/test.py``
``posecls-inference``      ``tools/inference.py``
``posecls-dataset-convert``  ``tools/dataset_convert.py``
``posecls-make-sample-data``  ``tools/make_sample_data.py``
``posecls-export-onnx``    ``tools/deployment/export_onnx.py``
``posecls-gen-trt-engine``  ``tools/deployment/gen_trt_engine.py``
``posecls-triton-repo``    ``tools/deployment/triton_repo.py``
``posecls-serve``          ``tools/deployment/serve.py``
``posecls-triton-client``  ``tools/deployment/triton_client.py``
``posecls-load-test``      ``tools/deployment/load_test.py``
``posecls-fuse-scores``    ``tools/misc/fuse_scores.py``
``posecls-report``         ``tools/report.py``
``posecls-pipeline``       ``tools/pipeline.py``
``posecls-render``         ``tools/render.py``
=========================  ===============================================

Config arguments resolve shipped configs by name (:mod:`posecls.utils.package_data`).
The TAO-style command is ``posecls <task> -e spec.yaml`` (:mod:`posecls.tao.cli`).
"""
import importlib
import sys

TOOLS = ('train', 'test', 'inference', 'dataset_convert', 'make_sample_data', 'export_onnx', 'gen_trt_engine',
         'triton_repo', 'serve', 'triton_client', 'load_test', 'fuse_scores', 'report', 'pipeline', 'render',
         'stream', 'quantize')


def run(name: str) -> int:
    """Run ``posecls.tools.<name>.main`` on ``sys.argv[1:]`` the way tools/*.py do."""
    from posecls.tools.cli import run_tool
    module = importlib.import_module(f'posecls.tools.{name}')
    return run_tool(module.main, prog=f"posecls-{name.replace('_', '-')}")


def _make(name: str):
    def entry() -> None:
        sys.exit(run(name))
    entry.__name__ = name
    entry.__doc__ = f'``posecls-{name.replace("_", "-")}``: ``posecls.tools.{name}.main``.'
    return entry


for _name in TOOLS:
    globals()[_name] = _make(_name)

#: the ``console_scripts`` of setup.py
CONSOLE_SCRIPTS = [f"posecls-{n.replace('_', '-')} = posecls.tools.entry:{n}" for n in TOOLS]
