"""Converters of the ops that torchvision CNNs and transformer encoders produce, static and dynamic shapes,
checked against eager PyTorch with the ops the seed's harness expects in the lowered graph."""

import pytest
import torch

import torch_kiln
from harness import run_test

aten = torch.ops.aten


class Unary(torch.nn.Module):
    def __init__(self, fn):
        super().__init__()
        self.fn = fn

    def forward(self, x):
        return self.fn(x)


@pytest.mark.parametrize(
    "fn,op",
    [
        (torch.relu, aten.relu.default),
        (torch.sigmoid, aten.sigmoid.default),
        (torch.tanh, aten.tanh.default),
        (lambda x: torch.nn.functional.gelu(x), aten.gelu.default),
        (lambda x: torch.nn.functional.gelu(x, approximate="tanh"), aten.gelu.default),
        (lambda x: torch.nn.functional.hardtanh(x, -0.5, 0.5), aten.hardtanh.default),
        (lambda x: torch.clamp(x, -0.3, 0.7), aten.clamp.default),
        (lambda x: x * 2.5 + 1.0, aten.mul.Tensor),
        (lambda x: x / 3.0 - 1.0, aten.div.Tensor),
        (lambda x: torch.softmax(x, dim=-1), aten.softmax.int),
        (lambda x: x.mean(dim=-1, keepdim=True), aten.mean.dim),
        (lambda x: x.permute(1, 0, 2), aten.permute.default),
        (lambda x: x.reshape(x.shape[0], -1), aten.view.default),
        (lambda x: x.unsqueeze(1), aten.unsqueeze.default),
        (lambda x: x[:, 1:3], aten.slice.Tensor),
        (lambda x: x[:, 1], aten.select.int),
        (lambda x: torch.cat([x, x * 2], dim=1), aten.cat.default),
        (lambda x: torch.where(x > 0, x, torch.zeros_like(x)), aten.where.self),
    ],
)
def test_unary_style_ops(fn, op):
    x = torch.randn(3, 4, 5)
    run_test(Unary(fn), [x], expected_ops={op}, expect_engines=1)
    dynamic = torch_kiln.Input(min_shape=(1, 4, 5), opt_shape=(3, 4, 5), max_shape=(6, 4, 5))
    run_test(Unary(fn), [x], dynamic_inputs=[dynamic], expect_engines=1)


def test_linear_layer_norm_and_matmul():
    class M(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = torch.nn.Linear(8, 16)
            self.ln = torch.nn.LayerNorm(16)

        def forward(self, x, y):
            return torch.matmul(self.ln(self.fc(x)), y)

    run_test(M(), [torch.randn(2, 5, 8), torch.randn(16, 3)], expect_engines=1)


def test_conv_batchnorm_pool():
    class M(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = torch.nn.Conv2d(3, 8, 3, stride=2, padding=1, groups=1)
            self.bn = torch.nn.BatchNorm2d(8)
            self.dw = torch.nn.Conv2d(8, 8, 3, padding=1, groups=8)

        def forward(self, x):
            y = torch.nn.functional.max_pool2d(torch.relu(self.bn(self.conv(x))), 2)
            return torch.nn.functional.adaptive_avg_pool2d(self.dw(y), 1)

    run_test(M(), [torch.randn(2, 3, 32, 32)], expect_engines=1)


def test_embedding_and_attention():
    class M(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.emb = torch.nn.Embedding(50, 32)

        def forward(self, ids):
            x = self.emb(ids).reshape(ids.shape[0], ids.shape[1], 4, 8).transpose(1, 2)
            return torch.nn.functional.scaled_dot_product_attention(x, x, x, is_causal=True)

    run_test(M(), [torch.randint(0, 50, (2, 7))])
