"""Runtime pieces: KilnEngineModule and the kiln::execute_engine custom op."""

from ._engine_module import KilnEngineModule
from ._execute import execute_engine

__all__ = ["KilnEngineModule", "execute_engine"]
