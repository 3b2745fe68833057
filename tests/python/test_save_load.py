"""torch_kiln.save / load: identical outputs in a new process."""

import os
import subprocess
import sys

import torch

import torch_kiln
from conftest import REPO


class Net(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 8, 3, padding=1)
        self.fc = torch.nn.Linear(8, 5)

    def forward(self, x):
        y = torch.relu(self.conv(x)).mean(dim=(2, 3))
        return torch.softmax(self.fc(y), dim=-1)


def test_save_then_load_in_a_new_process(tmp_path):
    model = Net().eval()
    x = torch.randn(2, 3, 16, 16)
    compiled = torch_kiln.compile(model, inputs=[x], min_block_size=1)
    expected = compiled(x)
    path = str(tmp_path / "net.pt2")
    torch_kiln.save(compiled, path, inputs=[x])
    torch.save(x, str(tmp_path / "x.pt"))
    torch.save(expected, str(tmp_path / "expected.pt"))
    script = (
        "import sys, torch, torch_kiln\n"
        f"m = torch_kiln.load({path!r})\n"
        f"x = torch.load({str(tmp_path / 'x.pt')!r}); e = torch.load({str(tmp_path / 'expected.pt')!r})\n"
        "assert torch.equal(m(x), e), 'outputs differ after load'\n"
        "print('ok')\n"
    )
    env = dict(os.environ, PYTHONPATH=os.path.join(REPO, "python"))
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "ok" in result.stdout
