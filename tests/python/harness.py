"""The converter test harness (the dynamo seed's run_test): compile a small module with Kiln, compare with
eager PyTorch, and check which ops the lowered graph holds."""

from typing import Iterable, Optional, Sequence, Set

import torch

import torch_kiln
from conftest import DEVICE

TOLERANCES = {torch.float32: (1e-4, 1e-4), torch.float16: (2e-3, 2e-3), torch.bfloat16: (2e-2, 2e-2)}
if DEVICE == "cuda":
    # GPU libraries sum in other orders than eager's kernels (split-K GEMMs, Winograd and FFT convolutions):
    # deep float32 networks differ by a few 1e-4 there.
    TOLERANCES[torch.float32] = (1e-3, 1e-3)


def run_test(
    module: torch.nn.Module,
    inputs: Sequence[torch.Tensor],
    expected_ops: Iterable = (),
    unexpected_ops: Iterable = (),
    min_block_size: int = 1,
    dynamic_inputs: Optional[Sequence[torch_kiln.Input]] = None,
    expect_engines: Optional[int] = None,
    **compile_kwargs,
):
    module = module.eval().to(DEVICE)
    inputs = [x.to(DEVICE) for x in inputs]
    if expected_ops or unexpected_ops:
        lowered = torch_kiln.dynamo.lower_module(module, inputs)
        targets = {n.target for n in lowered.graph.nodes if n.op == "call_function"}
        for op in expected_ops:
            assert op in targets, f"expected {op} in the lowered graph, got {sorted(map(str, targets))}"
        for op in unexpected_ops:
            assert op not in targets, f"did not expect {op} in the lowered graph"
    compiled = torch_kiln.compile(
        module, inputs=dynamic_inputs or inputs, min_block_size=min_block_size, device=DEVICE, **compile_kwargs
    )
    engines = [m for m in compiled.modules() if isinstance(m, torch_kiln.runtime.KilnEngineModule)]
    if expect_engines is not None:
        assert len(engines) == expect_engines, compiled.kiln_partition_report
    with torch.no_grad():
        expected = module(*inputs)
        actual = compiled(*inputs)
    _assert_close(actual, expected)
    return compiled


def _assert_close(actual, expected):
    if isinstance(expected, (tuple, list)):
        assert len(actual) == len(expected)
        for a, e in zip(actual, expected):
            _assert_close(a, e)
        return
    atol, rtol = TOLERANCES.get(expected.dtype, (0, 0))
    torch.testing.assert_close(actual, expected, atol=atol, rtol=rtol)
