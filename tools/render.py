"""Wrapper of posecls.tools.render (see `python tools/render.py --help`)."""
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

from posecls.tools.cli import run_tool  # noqa: E402
from posecls.tools.render import main  # noqa: E402

if __name__ == '__main__':
    sys.exit(run_tool(main, prog='tools/render.py'))
