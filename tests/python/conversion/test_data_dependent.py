"""Data-dependent ops (nonzero, masked_select, x[bool mask]) against eager PyTorch: their output extent is known
only after the engine ran, so the runtime sizes those outputs through an output allocator."""

import pytest
import torch

import torch_kiln
from conftest import DEVICE
from harness import run_test

aten = torch.ops.aten


class Fn(torch.nn.Module):
    """fn as a module; forward names its inputs (torch.export's dynamic shapes need names, not *args)."""

    def __init__(self, fn):
        super().__init__()
        self.fn = fn

    def forward(self, x, m=None):
        return self.fn(x) if m is None else self.fn(x, m)


def _values(shape, dtype):
    if dtype.is_floating_point:
        return torch.randn(shape).to(dtype)
    return torch.randint(-5, 6, shape).to(dtype)


MASKS = ["random", "none", "all"]
# Mask kinds with value dtypes, each dtype and each extreme covered once (keeps the file quick on 2 cores).
CASES = [("random", torch.float32), ("random", torch.int32), ("none", torch.float32), ("all", torch.int32)]


def _mask(shape, kind):
    if kind == "none":
        return torch.zeros(shape, dtype=torch.bool)
    if kind == "all":
        return torch.ones(shape, dtype=torch.bool)
    g = torch.Generator(device=torch.get_default_device()).manual_seed(3)
    return torch.rand(shape, generator=g) > 0.5


@pytest.mark.parametrize("dtype", [torch.float32, torch.int32, torch.bool])
@pytest.mark.parametrize("shape", [(7,), (3, 5)])
def test_nonzero(shape, dtype):
    x = _values(shape, torch.float32)
    x = (x > 0).to(dtype) * (x.abs() * 3).to(dtype) if dtype != torch.bool else x > 0
    run_test(Fn(torch.nonzero), [x], expected_ops={aten.nonzero.default}, expect_engines=1)


@pytest.mark.parametrize("kind", ["none", "all"])
def test_nonzero_extremes(kind):
    x = _mask((4, 3), kind).to(torch.float32)
    out = run_test(Fn(torch.nonzero), [x], expected_ops={aten.nonzero.default}, expect_engines=1)
    assert out(x).shape == (0 if kind == "none" else 12, 2)


@pytest.mark.parametrize(
    "shape,mask_shape", [((8,), (8,)), ((3, 4), (3, 4)), ((3, 4), (4,)), ((3, 4), (3, 1)), ((), ())]
)
@pytest.mark.parametrize("kind,dtype", CASES)
def test_masked_select(shape, mask_shape, kind, dtype):
    run_test(Fn(torch.masked_select), [_values(shape, dtype), _mask(mask_shape, kind)],
             expected_ops={aten.masked_select.default}, expect_engines=1)


def test_masked_select_widening_mask_stays_in_pytorch():
    # The mask broadcasts x itself to [3, 4]: the validator refuses it. (Only explained, not run: torch.export
    # bounds the count by x's 4 elements there, so the exported graph's own assertion fails in eager too.)
    x, m = _values((4,), torch.float32), _mask((3, 4), "random")
    report = torch_kiln.dynamo.explain(Fn(torch.masked_select), [x, m])
    assert "aten::masked_select.default" in {op["target"] for op in report["ops_in_pytorch"].values()}


def test_nonzero_of_scalar_stays_in_pytorch():
    # A 0-D input gives [count, 0] coordinates, which the engine's layer cannot express.
    x = torch.tensor(2.0)
    report = torch_kiln.dynamo.explain(Fn(torch.nonzero), [x])
    assert "aten::nonzero.default" in {op["target"] for op in report["ops_in_pytorch"].values()}
    run_test(Fn(torch.nonzero), [x], expected_ops={aten.nonzero.default})


@pytest.mark.parametrize("shape,mask_shape", [((9,), (9,)), ((3, 4), (3, 4)), ((5, 3), (5,)), ((2, 3, 2), (2, 3))])
@pytest.mark.parametrize("kind,dtype", CASES)
def test_mask_index(shape, mask_shape, kind, dtype):
    run_test(Fn(lambda x, m: x[m]), [_values(shape, dtype), _mask(mask_shape, kind)],
             expected_ops={aten.index.Tensor}, expect_engines=1)


def test_integer_index_keeps_its_converter():
    # The mask candidate's validator refuses integer indices; indexing.cc's converter still takes them.
    idx = torch.tensor([2, 0, 1])
    run_test(Fn(lambda x: x[idx]), [_values((4, 3), torch.float32)], expected_ops={aten.index.Tensor},
             expect_engines=1)


class MaskedSum(torch.nn.Module):
    def forward(self, x, m):
        picked = x[m] * 2.0 + 1.0
        return picked.sum(), torch.masked_select(x, m).relu().sum(0, keepdim=True), torch.nonzero(m).sum(0)


@pytest.mark.parametrize("kind", MASKS)
def test_data_dependent_in_the_middle(kind):
    x, m = _values((4, 5), torch.float32), _mask((4, 5), kind)
    compiled = run_test(MaskedSum(), [x, m], expected_ops={aten.index.Tensor, aten.masked_select.default},
                        expect_engines=1)
    # The same engine again with another count (the runner's buffers are reused or grown).
    x, m2 = x.to(DEVICE), _mask((4, 5), "all" if kind != "all" else "none").to(DEVICE)
    with torch.no_grad():
        torch.testing.assert_close(compiled(x, m2), MaskedSum()(x, m2))


def test_dynamic_batch():
    x = _values((6, 3), torch.float32)
    compiled = run_test(Fn(lambda x: x[x[:, 0] > 0].sum(0)), [x], expected_ops={aten.index.Tensor},
                        dynamic_inputs=[torch_kiln.Input(min_shape=(1, 3), opt_shape=(6, 3), max_shape=(16, 3),
                                                         dtype=torch.float32)], expect_engines=1)
    y = _values((11, 3), torch.float32).to(DEVICE)
    with torch.no_grad():
        torch.testing.assert_close(compiled(y), y[y[:, 0] > 0].sum(0))


def test_export_of_compiled_module():
    # Re-tracing the compiled module runs the engine op's fake implementation: data-dependent outputs get
    # fresh unbacked sizes there, and the exported program still runs with other masks.
    x, m = _values((4, 5), torch.float32).to(DEVICE), _mask((4, 5), "random").to(DEVICE)
    compiled = run_test(Fn(lambda x, m: x[m] * 2.0), [x, m], expected_ops={aten.index.Tensor}, expect_engines=1)
    program = torch.export.export(compiled, (x, m))
    engine_calls = [n for n in program.graph.nodes if "execute_engine" in str(n.target)]
    assert engine_calls and all(isinstance(v.shape[0], torch.SymInt) for v in engine_calls[0].meta["val"])
    m2 = _mask((4, 5), "all").to(DEVICE)
    with torch.no_grad():
        torch.testing.assert_close(program.module()(x, m2), x[m2] * 2.0)
