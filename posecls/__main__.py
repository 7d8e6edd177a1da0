"""``python -m posecls <task> -e spec.yaml [key=value ...]`` (same as the ``posecls`` console script)."""
import sys

from posecls.tao.cli import main

if __name__ == '__main__':
    sys.exit(main())
