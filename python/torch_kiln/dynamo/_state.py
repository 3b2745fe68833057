"""The compilation in progress: Python converters and validators receive torch.fx nodes, which they find here."""

import contextlib
import threading

_local = threading.local()


@contextlib.contextmanager
def compiling(translation, settings):
    previous = getattr(_local, "current", None)
    _local.current = (translation, settings)
    try:
        yield
    finally:
        _local.current = previous


def current():
    state = getattr(_local, "current", None)
    if state is None:
        raise RuntimeError("no Kiln compilation is in progress")
    return state
