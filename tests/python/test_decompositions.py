"""The decomposition registry of the seed: a user decomposition replaces addmm in the lowered graph."""

import torch

import torch_kiln
from harness import run_test
from torch_kiln.dynamo.lowering import DECOMPOSITIONS, register_decomposition, remove_decomposition


class AddMM(torch.nn.Module):
    def forward(self, bias, a, b):
        return torch.addmm(bias, a, b, beta=0.5, alpha=2.0)


def test_user_decomposition_replaces_addmm():
    @register_decomposition(torch.ops.aten.addmm, registry=DECOMPOSITIONS)
    def addmm_replacement(input_, mat1, mat2, *, beta=1, alpha=1):
        return torch.add(torch.mul(input_, beta), torch.mul(torch.matmul(mat1, mat2), alpha))

    try:
        inputs = [torch.randn(3, 5), torch.randn(3, 4), torch.randn(4, 5)]
        run_test(AddMM(), inputs, expected_ops={torch.ops.aten.mul.Tensor, torch.ops.aten.matmul.default},
                 unexpected_ops={torch.ops.aten.addmm.default}, expect_engines=1)
    finally:
        remove_decomposition(torch.ops.aten.addmm, registry=DECOMPOSITIONS)


def test_without_the_decomposition_addmm_stays_and_converts():
    inputs = [torch.randn(3, 5), torch.randn(3, 4), torch.randn(4, 5)]
    run_test(AddMM(), inputs, expected_ops={torch.ops.aten.addmm.default}, expect_engines=1)
