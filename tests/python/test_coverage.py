"""The converter coverage users can see: supported_ops() rows and their flags, and explain()'s reasons."""

import torch

import torch_kiln
from torch_kiln.dynamo.conversion import supported_ops

FLAGS = {"target", "has_validator", "supports_dynamic_shapes", "requires_output_allocator", "priority", "origin",
         "enabled", "evaluator"}


def test_supported_ops_lists_every_converter_with_its_flags():
    rows = supported_ops()
    assert rows and all(FLAGS <= set(r) for r in rows)
    aten = {r["target"] for r in rows if r["target"].startswith("aten::") and not r["evaluator"]}
    assert len(aten) >= 220, f"{len(aten)} distinct ATen overloads have converters"
    # Overloads count separately, and a validator is recorded where a converter has one.
    assert {"aten::add.Tensor", "aten::add.Scalar", "aten::convolution.default"} <= aten
    assert any(r["has_validator"] for r in rows if r["target"] == "aten::gelu.default")
    assert all(r["origin"] in ("C++", "Python") for r in rows)


class ForcedAndUnsupported(torch.nn.Module):
    def forward(self, x):
        y = torch.sigmoid(x) + 1
        return torch.special.bessel_j0(y) * 2  # no converter


def test_explain_names_each_op_left_in_pytorch_and_why():
    x = torch.randn(4, 5)
    info = torch_kiln.dynamo.explain(ForcedAndUnsupported(), [x], min_block_size=1,
                                     torch_executed_ops={torch.ops.aten.sigmoid.default})
    reasons = {v["target"]: v["reason"] for v in info["ops_in_pytorch"].values()}
    assert "no converter" in reasons["aten::special_bessel_j0.default"]
    assert "torch_executed_ops" in reasons["aten::sigmoid.default"] or "forced" in reasons["aten::sigmoid.default"]
