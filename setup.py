"""posecls: skeleton action classification with graph convolutional networks (ST-GCN and newer), TAO-compatible."""
import ast
import os
import os.path as osp
import re
import shutil

from setuptools import find_packages, setup
from setuptools.command.build_py import build_py

HERE = osp.dirname(osp.abspath(__file__))
#: shipped as package data under posecls/.mim (MMAction2's scheme; posecls/utils/package_data.py finds them)
MIM_FOLDERS = ('configs', 'specs', 'projects', 'tools')


def read_requirements(name: str) -> list:
    """Requirement lines of requirements/<name>.txt (comments and blanks dropped)."""
    with open(osp.join(HERE, 'requirements', f'{name}.txt')) as f:
        return [ln.split('#')[0].strip() for ln in f if ln.split('#')[0].strip() and not ln.startswith('-')]


def read_version() -> str:
    """Version from posecls/version.py."""
    with open(osp.join(HERE, 'posecls', 'version.py')) as f:
        return re.search(r"__version__ = '([^']+)'", f.read()).group(1)


def console_scripts() -> list:
    """``posecls`` (TAO-style tasks) and one ``posecls-<tool>`` per tool of posecls/tools/entry.py (parsed)."""
    with open(osp.join(HERE, 'posecls', 'tools', 'entry.py')) as f:
        tree = ast.parse(f.read())
    tools = next(ast.literal_eval(node.value) for node in tree.body
                 if isinstance(node, ast.Assign) and getattr(node.targets[0], 'id', None) == 'TOOLS')
    return ['posecls = posecls.tao.cli:main'] + [
        f"posecls-{name.replace('_', '-')} = posecls.tools.entry:{name}" for name in tools]


class BuildPyWithMim(build_py):
    """build_py that also copies configs/, specs/, projects/ and tools/ into posecls/.mim of the build."""

    def run(self) -> None:
        super().run()
        dest = osp.join(self.build_lib, 'posecls', '.mim')
        for folder in MIM_FOLDERS:
            target = osp.join(dest, folder)
            if osp.exists(target):
                shutil.rmtree(target)
            shutil.copytree(osp.join(HERE, folder), target,
                            ignore=shutil.ignore_patterns('__pycache__', '*.pyc', '*.pth', '*.onnx'))
        os.makedirs(dest, exist_ok=True)


setup(
    name='posecls',
    version=read_version(),
    description='Skeleton action classification with graph convolutional networks, TAO PoseClassificationNet '
    'compatible',
    long_description=open(osp.join(HERE, 'README.md')).read(),
    long_description_content_type='text/markdown',
    license='Apache-2.0',
    python_requires='>=3.9',
    packages=find_packages(include=['posecls', 'posecls.*']),
    install_requires=read_requirements('runtime'),
    extras_require={
        'tests': read_requirements('tests'),
        'optional': read_requirements('optional'),
        'tensorrt': read_requirements('tensorrt'),
        'triton': read_requirements('triton'),
        'stream': read_requirements('stream'),
        'openvino': read_requirements('openvino'),
        'render': read_requirements('render'),
    },
    include_package_data=True,
    package_data={'posecls': ['deploy/triton/python_model.py']},
    cmdclass={'build_py': BuildPyWithMim},
    entry_points={'console_scripts': console_scripts()},
)
