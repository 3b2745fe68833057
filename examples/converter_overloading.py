"""Overloading Kiln converters with custom converters.

The converter-overloading tutorial of ../shared/seeds/converter_overloading.rst with only names changed
(torch_tensorrt -> torch_kiln, tensorrt -> torch_kiln.engine, dynamo_tensorrt_converter -> dynamo_kiln_converter).
The tutorial's `.to("cuda")` becomes `.to(DEVICE)`, and compile takes `device=DEVICE`.
"""

import logging
import sys

import torch
import torch_kiln

# The tutorial moves the module to "cuda". This build of Kiln runs its engines on the CPU backend.
DEVICE = "cpu"

# GeLU has 2 modes in PyTorch, one using the ``erf`` function and the other using the ``tanh`` approximation.


class GeLU(torch.nn.Module):
    def __init__(self, mode="tanh"):
        super().__init__()
        self.mode = mode

    def forward(self, x):
        return torch.nn.functional.gelu(x, approximate=self.mode)


my_mod = GeLU(mode="tanh").to(DEVICE).eval()
ex_input = torch.randn(2, 5).to(DEVICE)

# As a baseline, the standard Kiln GeLU converter (in tanh approximation mode).
my_standard_gelu = torch_kiln.compile(my_mod, arg_inputs=(ex_input,), min_block_size=1, device=DEVICE)
print(my_standard_gelu.graph)
print(my_standard_gelu(ex_input))

# Writing a custom converter

from typing import Dict, Sequence, Tuple, Union

import torch_kiln.engine as trt
from torch.fx.node import Argument, Node, Target
from torch_kiln.dynamo import CompilationSettings
from torch_kiln.dynamo.conversion import ConversionContext


@torch_kiln.dynamo.conversion.dynamo_kiln_converter(
    # The PyTorch operation to convert, when this operation is encountered, this converter will be called
    torch.ops.aten.gelu.default,
    # Validators are functions that determine that given a specific node, if it can be converted by the converter
    capability_validator=lambda node, settings: ("approximate" in node.kwargs and node.kwargs["approximate"] == "tanh"),
    # Can this converter be used in cases where the input shapes are dynamic
    supports_dynamic_shapes=True,
    # Set the priority of the converter to supersede the default one
    priority=torch_kiln.dynamo.conversion.ConverterPriority.HIGH,
    # Whether the converter requires a dynamic output allocator to run (e.g. data dependent ops)
    requires_output_allocator=True,
)
def aten_ops_gelu(
    ctx: ConversionContext,
    target: Target,
    args: Tuple[Argument, ...],
    kwargs: Dict[str, Argument],
    name: str,
) -> Union[trt.ITensor, Sequence[trt.ITensor]]:
    # The schema for torch.ops.aten.gelu.default is gelu(Tensor self, *, str approximate='none') -> Tensor

    from torch_kiln.dynamo import SourceIR
    from torch_kiln.dynamo.conversion import impl

    # Cheap way to allow layer names to be unqiue
    op_count = 0

    def get_op_count():
        nonlocal op_count
        op_count += 1
        return op_count

    mul = lambda x, y: impl.elementwise.mul(
        ctx,
        target,
        name=f"mul_{get_op_count()}",
        source_ir=SourceIR.ATEN,
        lhs_val=x,
        rhs_val=y,
    )
    add = lambda x, y: impl.elementwise.add(
        ctx,
        target,
        name=f"add_{get_op_count()}",
        source_ir=SourceIR.ATEN,
        lhs_val=x,
        rhs_val=y,
    )
    tanh = lambda x: impl.activation.tanh(ctx, target, name=f"tanh_{get_op_count()}", source_ir=SourceIR.ATEN, input_val=x)

    # So we know that our custom converter is being run instead of the standard one
    print("\n\n---------------------------")
    print("Using custom GeLU converter")
    print("---------------------------\n\n")

    x_7 = mul(args[0], 0.5)
    x_8 = mul(args[0], 0.79788456080000003)
    x_9 = mul(args[0], 0.044714999999999998)
    x_10 = mul(x_9, args[0])
    x_11 = add(x_10, 1.0)
    x_12 = mul(x_8, x_11)
    x_13 = tanh(x_12)
    x_14 = add(x_13, 1.0)
    x_15 = mul(x_7, x_14)

    return x_15


# Using our custom converter
my_custom_gelu = torch_kiln.compile(my_mod, arg_inputs=(ex_input,), min_block_size=1, device=DEVICE)
with torch.no_grad():
    print(my_custom_gelu.graph)
    print(my_custom_gelu(ex_input))

print(f"tanh approximations are close: {torch.allclose(my_standard_gelu(ex_input), my_custom_gelu(ex_input))}")

# With approximate="none" the validator refuses and the standard converter runs.
my_mod_erf = GeLU(mode="none").to(DEVICE).eval()
my_gelu_erf = torch_kiln.compile(my_mod_erf, arg_inputs=(ex_input,), min_block_size=1, device=DEVICE)
with torch.no_grad():
    print(my_gelu_erf.graph)
    print(my_gelu_erf(ex_input))
