"""Errors of the TAO-compatible command line."""


class SpecError(ValueError):
    """An experiment spec or override that is invalid; raised before any work starts.

    The message names the key (dotted path), the bad value and the allowed values.
    """


class TaskNotAvailable(RuntimeError):
    """A task whose implementation is not part of this installation (e.g. ``export`` without ``posecls.deploy``)."""
