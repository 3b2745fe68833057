"""SourceIR: which frontend produced the node being converted (for layer names)."""

from enum import Enum, auto


class SourceIR(Enum):
    NN = auto()
    ACC = auto()
    ATEN = auto()
    PRIM = auto()
    TORCHTRT_LOWERED = auto()
    UNKNOWN = auto()

    def __str__(self):
        return self.name.lower()
