"""Model coverage of Kiln's dynamo frontend: for a set of reference models, how many engine segments a
compile with min_block_size=1 gives, which ops stay in PyTorch and why, the error against eager and the
compile time. The goal for every model is one segment and no op left in PyTorch.

  python scripts/model_coverage.py --out coverage.md                 # every model
  python scripts/model_coverage.py --models resnet50,bert --out r.md  # a subset

Writes a markdown table to --out and the same data as JSON beside it (<out without suffix>.json). A model
that fails to build, capture or compile gets a row saying where and why; the others still run.
Runs on the CPU in float32, batch 1, 224x224 images, input_ids of shape [1, 128] for the language models.
BERT and GPT-2 need transformers: .venv/bin/pip install -r requirements-models.txt
"""

import argparse
import json
import os
import sys
import time
import traceback
from collections import Counter
from typing import Callable, Dict, List, Tuple

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python"))

import torch_kiln  # noqa: E402
import torch_kiln.dynamo  # noqa: E402


class _LastHiddenState(torch.nn.Module):
    """Hugging Face models return an output object; the coverage run compares the last hidden state."""

    def __init__(self, model: torch.nn.Module):
        super().__init__()
        self.model = model

    def forward(self, input_ids):
        return self.model(input_ids=input_ids).last_hidden_state


def _image() -> Tuple[torch.Tensor]:
    return (torch.randn(1, 3, 224, 224),)


def _torchvision(name: str) -> Callable[[], Tuple[torch.nn.Module, tuple]]:
    def build():
        import torchvision

        return getattr(torchvision.models, name)(weights=None), _image()

    return build


def _transformer_encoder():
    layer = torch.nn.TransformerEncoderLayer(d_model=256, nhead=4, batch_first=True)
    model = torch.nn.TransformerEncoder(layer, num_layers=2, enable_nested_tensor=False)
    return model, (torch.randn(1, 128, 256),)


def _token_ids(vocab_size: int) -> Tuple[torch.Tensor]:
    return (torch.randint(0, vocab_size, (1, 128), dtype=torch.int64),)


def _bert():
    from transformers import BertConfig, BertModel

    config = BertConfig()
    return _LastHiddenState(BertModel(config)), _token_ids(config.vocab_size)


def _gpt2():
    from transformers import GPT2Config, GPT2Model

    config = GPT2Config()
    return _LastHiddenState(GPT2Model(config)), _token_ids(config.vocab_size)


MODELS: Dict[str, Callable[[], Tuple[torch.nn.Module, tuple]]] = {
    "resnet50": _torchvision("resnet50"),
    "mobilenet_v3_large": _torchvision("mobilenet_v3_large"),
    "efficientnet_b0": _torchvision("efficientnet_b0"),
    "vit_b_16": _torchvision("vit_b_16"),
    "convnext_tiny": _torchvision("convnext_tiny"),
    "swin_t": _torchvision("swin_t"),
    "transformer_encoder": _transformer_encoder,
    "bert": _bert,
    "gpt2": _gpt2,
}


def _engine_count(compiled: torch.nn.Module) -> int:
    from torch_kiln.runtime import KilnEngineModule

    return sum(1 for m in compiled.modules() if isinstance(m, KilnEngineModule))


def _max_abs_error(expected, actual) -> float:
    flat_e = expected if isinstance(expected, (list, tuple)) else [expected]
    flat_a = actual if isinstance(actual, (list, tuple)) else [actual]
    if len(flat_e) != len(flat_a):
        raise RuntimeError(f"the compiled module returns {len(flat_a)} outputs, eager {len(flat_e)}")
    worst = 0.0
    for e, a in zip(flat_e, flat_a):
        if e.shape != a.shape:
            raise RuntimeError(f"output shape {tuple(a.shape)} differs from eager {tuple(e.shape)}")
        worst = max(worst, (e.float() - a.float()).abs().max().item() if e.numel() else 0.0)
    return worst


def run_model(name: str) -> dict:
    row = {"model": name, "segments": None, "ops_in_pytorch": {}, "max_abs_error": None, "max_abs_eager": None,
           "compile_s": None, "error": None}
    stage = "building the model"
    try:
        torch.manual_seed(0)
        model, inputs = MODELS[name]()
        model = model.eval()
        stage = "running eager"
        with torch.no_grad():
            expected = model(*inputs)
        stage = "explain"
        explained = torch_kiln.dynamo.explain(model, inputs, min_block_size=1)
        # Group by op and reason: a model may leave dozens of nodes of one op in PyTorch.
        counts = Counter((v["target"], v["reason"]) for v in explained["ops_in_pytorch"].values())
        row["ops_in_pytorch"] = {f"{t}: {r}": c for (t, r), c in sorted(counts.items())}
        stage = "compile"
        start = time.perf_counter()
        compiled = torch_kiln.compile(model, inputs=list(inputs), min_block_size=1)
        row["compile_s"] = round(time.perf_counter() - start, 1)
        row["segments"] = _engine_count(compiled)
        stage = "running the compiled module"
        with torch.no_grad():
            actual = compiled(*inputs)
        row["max_abs_error"] = _max_abs_error(expected, actual)
        # The scale of the outputs, so the error can be read (a zero-initialized head gives all-zero logits).
        flat = expected if isinstance(expected, (list, tuple)) else [expected]
        row["max_abs_eager"] = max((e.float().abs().max().item() for e in flat if e.numel()), default=0.0)
    except Exception as exc:  # a failing model is reported in its row; the others still run
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        row["error"] = f"{stage}: {type(exc).__name__}: {first_line[:300]}"
        row["traceback"] = traceback.format_exc()
    return row


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def markdown(rows: List[dict]) -> str:
    lines = [
        "| model | engine segments | ops in PyTorch (count) | max abs error | max abs eager | compile s | status |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in rows:
        ops = "; ".join(f"{k} (x{v})" for k, v in r["ops_in_pytorch"].items()) or "none"
        err = f"{r['max_abs_error']:.2e}" if r["max_abs_error"] is not None else "-"
        scale = f"{r['max_abs_eager']:.2e}" if r["max_abs_eager"] is not None else "-"
        seg = str(r["segments"]) if r["segments"] is not None else "-"
        comp = str(r["compile_s"]) if r["compile_s"] is not None else "-"
        ok = r["error"] is None and r["segments"] == 1 and not r["ops_in_pytorch"]
        status = "ok" if ok else (f"FAILED: {r['error']}" if r["error"] else "partial")
        lines.append(f"| {r['model']} | {seg} | {_cell(ops)} | {err} | {scale} | {comp} | {_cell(status)} |")
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", default=",".join(MODELS), help=f"comma-separated subset of {', '.join(MODELS)}")
    parser.add_argument("--out", required=True, help="markdown table path; the JSON goes beside it")
    parser.add_argument("--threads", type=int, default=0, help="torch.set_num_threads (0: leave as is)")
    args = parser.parse_args(argv)
    names = [n.strip() for n in args.models.split(",") if n.strip()]
    unknown = [n for n in names if n not in MODELS]
    if unknown:
        parser.error(f"unknown models {unknown}; choose from {', '.join(MODELS)}")
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    rows = []
    for name in names:
        print(f"== {name}", file=sys.stderr, flush=True)
        rows.append(run_model(name))
        if rows[-1]["error"]:
            print(rows[-1]["traceback"], file=sys.stderr, flush=True)
    table = markdown(rows)
    print(table)
    with open(args.out, "w") as f:
        f.write(table)
    with open(os.path.splitext(args.out)[0] + ".json", "w") as f:
        json.dump(rows, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
