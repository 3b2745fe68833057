"""Runtime pieces: KilnEngineModule, the kiln::execute_engine custom op, profiling, the CUDA graph switch and
device memory statistics."""

from ._engine_module import KilnEngineModule
from ._execute import execute_engine
from ._memory import memory_stats, reset_peak_memory_stats
from ._profiling import Profile, get_cuda_graphs_mode, profile, set_cuda_graphs_mode

__all__ = [
    "KilnEngineModule",
    "execute_engine",
    "Profile",
    "profile",
    "set_cuda_graphs_mode",
    "get_cuda_graphs_mode",
    "memory_stats",
    "reset_peak_memory_stats",
]
