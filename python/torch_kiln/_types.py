"""dtype and device mappings between torch and Kiln."""

import torch

from . import _C

_TORCH_TO_KILN = {
    torch.float32: _C.DataType.FLOAT,
    torch.float16: _C.DataType.HALF,
    torch.bfloat16: _C.DataType.BF16,
    torch.int8: _C.DataType.INT8,
    torch.int32: _C.DataType.INT32,
    torch.int64: _C.DataType.INT64,
    torch.bool: _C.DataType.BOOL,
    torch.uint8: _C.DataType.UINT8,
}
_KILN_TO_TORCH = {v: k for k, v in _TORCH_TO_KILN.items()}


def to_kiln_dtype(dtype: torch.dtype) -> "_C.DataType":
    if dtype == torch.float64:
        # Kiln has no float64: the frontend computes doubles in float32 (like TensorRT).
        return _C.DataType.FLOAT
    if dtype not in _TORCH_TO_KILN:
        raise TypeError(f"Kiln does not support tensors of dtype {dtype}")
    return _TORCH_TO_KILN[dtype]


def to_torch_dtype(dtype: "_C.DataType") -> torch.dtype:
    return _KILN_TO_TORCH[dtype]


def is_supported_dtype(dtype: torch.dtype) -> bool:
    return dtype in _TORCH_TO_KILN or dtype == torch.float64


# torch ScalarType codes, as ATen schemas' ScalarType arguments carry them.
_SCALAR_TYPE_CODES = {
    torch.uint8: 0, torch.int8: 1, torch.int16: 2, torch.int32: 3, torch.int64: 4, torch.float16: 5,
    torch.float32: 6, torch.float64: 7, torch.bool: 11, torch.bfloat16: 15,
}


def scalar_type_code(dtype: torch.dtype) -> int:
    return _SCALAR_TYPE_CODES[dtype]
