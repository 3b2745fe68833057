"""Whole models compile into Kiln engines and match eager PyTorch (random weights, small inputs on the CPU)."""

import pytest
import torch
import torchvision

import torch_kiln
from harness import run_test


@pytest.mark.parametrize("name", ["resnet18", "mobilenet_v2", "mobilenet_v3_large"])
def test_torchvision_model(name):
    model = getattr(torchvision.models, name)(num_classes=10)
    compiled = run_test(model, [torch.randn(1, 3, 64, 64)])
    assert "Kiln" in compiled.kiln_partition_report


class Encoder(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.emb = torch.nn.Embedding(100, 64)
        layer = torch.nn.TransformerEncoderLayer(64, 4, 128, batch_first=True, activation="gelu", dropout=0.1)
        self.encoder = torch.nn.TransformerEncoder(layer, 2, enable_nested_tensor=False)

    def forward(self, ids):
        return self.encoder(self.emb(ids))


def test_transformer_encoder():
    run_test(Encoder(), [torch.randint(0, 100, (2, 16))])


def test_dynamic_batch():
    model = torchvision.models.resnet18(num_classes=10).eval()
    spec = torch_kiln.Input(min_shape=(1, 3, 32, 32), opt_shape=(2, 3, 32, 32), max_shape=(4, 3, 32, 32))
    compiled = torch_kiln.compile(model, inputs=[spec], min_block_size=1)
    for batch in (1, 3, 4):
        x = torch.randn(batch, 3, 32, 32)
        with torch.no_grad():
            torch.testing.assert_close(compiled(x), model(x), atol=1e-4, rtol=1e-4)


def test_transformer_encoder_with_dynamic_batch_is_one_engine():
    model = Encoder().eval()
    spec = torch_kiln.Input(min_shape=(1, 16), opt_shape=(2, 16), max_shape=(8, 16), dtype=torch.int64)
    compiled = torch_kiln.compile(model, inputs=[spec], min_block_size=1)
    engines = [m for m in compiled.modules() if isinstance(m, torch_kiln.runtime.KilnEngineModule)]
    assert len(engines) == 1, compiled.kiln_partition_report
    for batch in (1, 3, 8):
        ids = torch.randint(0, 100, (batch, 16))
        with torch.no_grad():
            torch.testing.assert_close(compiled(ids), model(ids), atol=1e-4, rtol=1e-4)
