"""Compiles a module whose forward calls ATen overloads directly, without torch.export, for converters of ops
that export always decomposes (CompositeImplicitAutograd ops such as einsum, conv2d, group_norm): the graph
torch.fx traces keeps the call, fake tensors give it shapes, and Kiln compiles it like an exported graph.
Static shapes only (fake propagation binds the example's extents)."""

import torch
from torch._subclasses.fake_tensor import FakeTensorMode
from torch.fx.passes.fake_tensor_prop import FakeTensorProp

import torch_kiln
from conftest import DEVICE
from harness import _assert_close
from torch_kiln.dynamo._compiler import compile_graph_module
from torch_kiln.dynamo._settings import CompilationSettings


def run_aten_graph(module, inputs, expected_op, expect_in_kiln=True):
    module = module.eval().to(DEVICE)
    inputs = [x.to(DEVICE) for x in inputs]
    gm = torch.fx.symbolic_trace(module)
    targets = {n.target for n in gm.graph.nodes if n.op == "call_function"}
    assert expected_op in targets, sorted(map(str, targets))
    FakeTensorProp(gm, FakeTensorMode(allow_non_fake_inputs=True)).propagate(*inputs)
    specs = [torch_kiln.Input.from_tensor(x) for x in inputs]
    compiled = compile_graph_module(gm, specs, CompilationSettings(min_block_size=1, device=torch.device(DEVICE)))
    name = next(n.name for n in gm.graph.nodes if n.target == expected_op)
    in_kiln = compiled.kiln_node_reasons[name][1] in ("", "supported")
    assert in_kiln == expect_in_kiln, compiled.kiln_partition_report
    with torch.no_grad():
        _assert_close(compiled(*inputs), module(*inputs))
    return compiled
