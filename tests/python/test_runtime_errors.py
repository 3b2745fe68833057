"""Run-time checks: a wrong input shape or dtype raises an exception naming the input, never a crash."""

import pytest
import torch

import torch_kiln


class Net(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = torch.nn.Linear(8, 4)

    def forward(self, x):
        return torch.relu(self.fc(x))


def test_shape_outside_the_profile_names_the_input():
    compiled = torch_kiln.compile(
        Net(), inputs=[torch_kiln.Input(min_shape=(1, 8), opt_shape=(4, 8), max_shape=(8, 8))], min_block_size=1)
    out = compiled(torch.randn(6, 8))
    assert out.shape == (6, 4)
    with pytest.raises(Exception) as info:
        compiled(torch.randn(16, 8))
    assert "16" in str(info.value) or "outside" in str(info.value)


def test_wrong_dtype_names_the_input():
    compiled = torch_kiln.compile(Net(), inputs=[torch.randn(2, 8)], min_block_size=1)
    engine = [m for m in compiled.modules() if isinstance(m, torch_kiln.runtime.KilnEngineModule)][0]
    with pytest.raises(TypeError) as info:
        engine(torch.randn(2, 8).half())
    assert engine.input_names[0] in str(info.value)


class Scaled(torch.nn.Module):
    def forward(self, x, *, scale):
        return torch.relu(x) * scale


def test_kwarg_inputs():
    compiled = torch_kiln.compile(Scaled(), arg_inputs=[torch.randn(2, 3)], kwarg_inputs={"scale": torch.randn(2, 3)},
                                  min_block_size=1)
    x, s = torch.randn(2, 3), torch.randn(2, 3)
    torch.testing.assert_close(compiled(x, scale=s), Scaled()(x, scale=s))
