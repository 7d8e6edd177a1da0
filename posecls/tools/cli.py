"""How every posecls command ends: one clear line for an ordinary error, a traceback only when asked.

``run_tool(main)`` is what ``tools/*.py`` and the ``posecls-*`` console scripts run. An ordinary
error -- a missing or unreadable file, a value that does not fit (file, field and value are in the
message), a damaged or mismatched checkpoint, NaN input -- prints ``<prog>: error: <message>`` on
stderr and exits 1; ``--verbose`` or ``POSECLS_DEBUG=1`` shows the traceback instead. Anything
else (a bug) keeps its traceback.
"""
import os
import sys
from typing import Callable, List, Optional

#: the environment variable that turns on tracebacks for ordinary errors (like --verbose)
DEBUG_ENV = 'POSECLS_DEBUG'


#: (module, class) of posecls's ordinary error types besides OSError, ValueError, KeyError and RuntimeError
_ERROR_TYPES = (('posecls.utils.checkpoint', 'CheckpointError'), ('posecls.utils.encryption', 'EncryptionError'),
                ('posecls.datasets.label_io', 'LabelFileError'), ('posecls.utils.input_checks', 'NonFiniteInputError'))


def ordinary_errors() -> tuple:
    """Exception types that are the user's input, not posecls's bug.

    A posecls error type is included when its module is imported: an exception of a class can only have been
    raised once its module was, so a command that never imported ``posecls.utils.checkpoint`` (torch) does
    not import it just to classify its error.
    """
    found = tuple(getattr(sys.modules[module], name) for module, name in _ERROR_TYPES if module in sys.modules)
    return (OSError, ValueError, KeyError) + found + (RuntimeError, )


def error_message(e: BaseException) -> str:
    """The message of ``e`` on one line (KeyError's quotes removed; a plain RuntimeError, e.g. torch's, named)."""
    text = e.args[0] if isinstance(e, KeyError) and e.args else str(e)
    text = ' '.join(str(text).split())
    return f'RuntimeError: {text}' if type(e) is RuntimeError else text


def run_tool(main: Callable[[Optional[List[str]]], object], argv: Optional[List[str]] = None,
             prog: Optional[str] = None) -> int:
    """Run a tool's ``main(argv)``; returns the exit code (0, 1 ordinary error, 130 interrupted).

    Args:
        main: The tool's ``main``.
        argv: Arguments (default ``sys.argv[1:]``).
        prog: Name in the error line (default the program name).
    """
    argv = sys.argv[1:] if argv is None else list(argv)
    prog = prog or os.path.basename(sys.argv[0])
    debug = '--verbose' in argv or os.environ.get(DEBUG_ENV, '') not in ('', '0')
    try:
        main(argv)
    except KeyboardInterrupt:
        print(f'{prog}: interrupted', file=sys.stderr)
        return 130
    except Exception as e:  # noqa: BLE001 - ordinary errors get one line, the rest their traceback
        if debug or not isinstance(e, ordinary_errors()):
            raise
        print(f'{prog}: error: {error_message(e)}', file=sys.stderr)
        print(f'{prog}: (run with --verbose or {DEBUG_ENV}=1 for the traceback)', file=sys.stderr)
        return 1
    return 0


__all__ = ['run_tool', 'ordinary_errors', 'error_message', 'DEBUG_ENV']
