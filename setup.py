"""posecls: skeleton-based action classification (ST-GCN and newer GCNs), TAO-compatible."""
import os.path as osp
import re

from setuptools import find_packages, setup

HERE = osp.dirname(osp.abspath(__file__))


def read_requirements(name: str) -> list:
    """Requirement lines of requirements/<name>.txt (comments and blanks dropped)."""
    with open(osp.join(HERE, 'requirements', f'{name}.txt')) as f:
        return [ln.split('#')[0].strip() for ln in f if ln.split('#')[0].strip() and not ln.startswith('-')]


def read_version() -> str:
    """Version from posecls/version.py."""
    with open(osp.join(HERE, 'posecls', 'version.py')) as f:
        return re.search(r"__version__ = '([^']+)'", f.read()).group(1)


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
    },
    include_package_data=True,
    # `posecls <task> -e spec.yaml key=value`: the TAO-compatible command line (posecls/tao/cli.py).
    entry_points={'console_scripts': ['posecls = posecls.tao.cli:main']},
)
