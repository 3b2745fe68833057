import os
import sys

import pytest
import torch

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(REPO, "python"))

# KILN_TEST_DEVICE=cuda runs the same tests on the CUDA backend (on the GPU machine).
DEVICE = os.environ.get("KILN_TEST_DEVICE", "cpu")
if DEVICE == "cuda":
    # Tensors a test makes itself (constants inside forward, index tensors in closures) land on the GPU too.
    torch.set_default_device("cuda")
    # The float32 reference must be float32: eager convolutions would otherwise use TF32 (PyTorch's default).
    torch.backends.cudnn.allow_tf32 = False
    torch.backends.cuda.matmul.allow_tf32 = False


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)
