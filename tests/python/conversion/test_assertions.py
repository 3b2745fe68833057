"""aten::_assert_tensor_metadata (left by torch.export where `.to(...)` turned out to be a no-op): decided when
the engine is built, so it costs nothing and does not split the graph."""

import torch

import torch_kiln
from harness import DEVICE, run_test

aten = torch.ops.aten


class NoOpCasts(torch.nn.Module):
    def forward(self, x):
        return (x.to(x.device) + 1).to(x.dtype) * 2


def test_metadata_assertions_join_the_engine():
    x = torch.randn(2, 3)
    run_test(NoOpCasts(), [x], expected_ops={aten._assert_tensor_metadata.default}, expect_engines=1)
    explained = torch_kiln.dynamo.explain(NoOpCasts().to(DEVICE), [x.to(DEVICE)], min_block_size=1,
                                          device=torch.device(DEVICE))
    assert explained["ops_in_pytorch"] == {}, explained["report"]


def test_metadata_assertions_with_dynamic_shapes():
    x = torch.randn(2, 3)
    run_test(NoOpCasts(), [x], dynamic_inputs=[torch_kiln.Input(min_shape=(1, 3), opt_shape=(2, 3),
                                                                max_shape=(8, 3))], expect_engines=1)
