"""The dynamo (torch.export) frontend: CompilationSettings, SourceIR, conversion, lowering, explain."""

from . import conversion, lowering
from ._compiler import compile_graph_module, compile_module, explain, lower_module
from ._settings import CompilationSettings
from ._source_ir import SourceIR

__all__ = ["CompilationSettings", "SourceIR", "conversion", "lowering", "explain", "compile_module",
           "compile_graph_module", "lower_module"]
