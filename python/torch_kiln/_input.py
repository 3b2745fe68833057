"""torch_kiln.Input: the shape, dtype and dynamic range of one model input (like torch_tensorrt.Input)."""

from typing import Optional, Sequence, Tuple

import torch


class Input:
    """A static shape (``Input(shape=(1, 3, 224, 224))``) or a range
    (``Input(min_shape=(1, 3, 224, 224), opt_shape=(8, 3, 224, 224), max_shape=(32, 3, 224, 224))``)."""

    def __init__(
        self,
        shape: Optional[Sequence[int]] = None,
        min_shape: Optional[Sequence[int]] = None,
        opt_shape: Optional[Sequence[int]] = None,
        max_shape: Optional[Sequence[int]] = None,
        dtype: torch.dtype = torch.float32,
        name: Optional[str] = None,
    ):
        if shape is not None:
            if min_shape is not None or opt_shape is not None or max_shape is not None:
                raise ValueError("Input: give either shape, or min_shape/opt_shape/max_shape, not both")
            min_shape = opt_shape = max_shape = shape
        if min_shape is None or opt_shape is None or max_shape is None:
            raise ValueError("Input: a dynamic input needs min_shape, opt_shape and max_shape")
        self.min_shape: Tuple[int, ...] = tuple(int(d) for d in min_shape)
        self.opt_shape: Tuple[int, ...] = tuple(int(d) for d in opt_shape)
        self.max_shape: Tuple[int, ...] = tuple(int(d) for d in max_shape)
        if not (len(self.min_shape) == len(self.opt_shape) == len(self.max_shape)):
            raise ValueError(f"Input {name or ''}: min/opt/max shapes have different ranks")
        for lo, mid, hi in zip(self.min_shape, self.opt_shape, self.max_shape):
            if not (0 <= lo <= mid <= hi):
                raise ValueError(
                    f"Input {name or ''}: need 0 <= min <= opt <= max per dim, got "
                    f"{self.min_shape} / {self.opt_shape} / {self.max_shape}"
                )
        self.dtype = dtype
        self.name = name

    @property
    def shape(self) -> Tuple[int, ...]:
        return self.opt_shape

    def is_dynamic(self) -> bool:
        return self.min_shape != self.max_shape

    def dynamic_dims(self):
        return [i for i, (lo, hi) in enumerate(zip(self.min_shape, self.max_shape)) if lo != hi]

    def example_tensor(self, device="cpu") -> torch.Tensor:
        if self.dtype.is_floating_point:
            return torch.randn(self.opt_shape, dtype=self.dtype, device=device)
        if self.dtype == torch.bool:
            return torch.zeros(self.opt_shape, dtype=self.dtype, device=device)
        return torch.zeros(self.opt_shape, dtype=self.dtype, device=device)

    @classmethod
    def from_tensor(cls, tensor: torch.Tensor, name: Optional[str] = None) -> "Input":
        return cls(shape=tuple(tensor.shape), dtype=tensor.dtype, name=name)

    def __repr__(self):
        if not self.is_dynamic():
            return f"Input(shape={self.opt_shape}, dtype={self.dtype})"
        return f"Input(min_shape={self.min_shape}, opt_shape={self.opt_shape}, max_shape={self.max_shape}, dtype={self.dtype})"
