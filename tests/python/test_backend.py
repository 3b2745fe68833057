"""torch.compile(model, backend="kiln", options={...})."""

import torch

import torch_kiln  # noqa: F401  (registers the backend)


class Net(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = torch.nn.Linear(16, 32)
        self.fc2 = torch.nn.Linear(32, 4)

    def forward(self, x):
        return self.fc2(torch.nn.functional.gelu(self.fc1(x)))


def test_torch_compile_backend():
    torch._dynamo.reset()
    model = Net().eval()
    compiled = torch.compile(model, backend="kiln", options={"min_block_size": 1})
    x = torch.randn(3, 16)
    with torch.no_grad():
        torch.testing.assert_close(compiled(x), model(x), atol=1e-4, rtol=1e-4)
