"""Wrapper of posecls.tools.gen_trt_engine (see `python tools/deployment/gen_trt_engine.py --help`)."""
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))

from posecls.tools.gen_trt_engine import main  # noqa: E402

if __name__ == '__main__':
    main()
