"""Kiln against eager PyTorch and torch.compile, in one process on one GPU.

    python bench/run.py                      # every model and batch of the suite
    python bench/run.py --models resnet50 --batches 1
    python bench/run.py --models resnet50:64 bert_base_seq128:1   # single entries

For each model and batch (float16, random weights) it measures Kiln, eager (half; channels_last and
cudnn.benchmark for CNNs), torch.compile (default) and torch.compile(mode="reduce-overhead"): median and p99
latency from CUDA events after warm-up, throughput, Kiln's build time cold and with its timing cache, Kiln's
peak device memory while running and while building (torch_kiln.runtime.memory_stats), and Kiln's max abs error and cosine similarity against float32 eager. Results merge into
bench/results/<gpu>.json and bench/results/<gpu>.md (ratios Kiln/eager and Kiln/torch.compile, geometric means).
"""

import argparse
import gc
import json
import math
import os
import re
import sys
import tempfile
import time

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "python"))

import torch_kiln  # noqa: E402

SUITE = {
    "resnet50": (1, 64),
    "mobilenet_v3_large": (1, 128),
    "vit_b_16": (1, 64),
    "bert_base_seq128": (1, 32),
    "gpt2_prefill512": (1, 8),
    "convnext_tiny": (1, 64),
}
CNNS = {"resnet50", "mobilenet_v3_large", "convnext_tiny"}


def make_model(name: str):
    """The model in float32 (random weights) and a function making its inputs for a batch."""
    torch.manual_seed(0)
    if name in ("resnet50", "mobilenet_v3_large", "vit_b_16", "convnext_tiny"):
        import torchvision

        model = getattr(torchvision.models, name)(weights=None)
        return model, lambda b: (torch.randn(b, 3, 224, 224),)
    if name == "bert_base_seq128":
        from transformers import BertConfig, BertModel

        model = BertModel(BertConfig(attn_implementation="sdpa"), add_pooling_layer=False)
        return _LastHidden(model), lambda b: (torch.randint(0, 30000, (b, 128)),)
    if name == "gpt2_prefill512":
        from transformers import GPT2Config, GPT2Model

        model = GPT2Model(GPT2Config(use_cache=False, attn_implementation="sdpa"))
        return _LastHidden(model), lambda b: (torch.randint(0, 50000, (b, 512)),)
    raise ValueError(f"unknown model {name}; the suite has {sorted(SUITE)}")


def calibrate(model: torch.nn.Module, make_inputs) -> None:
    """Random weights, but outputs worth comparing: batch-norm statistics from a few training-mode passes over
    random inputs (with the default statistics, MobileNetV3's logits shrink to ~1e-9), and zero-initialized
    classifier heads (ViT's) drawn at random. Without this the cosine similarity of a degenerate output says
    nothing."""
    norms = [m for m in model.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.Linear) and not m.weight.any():
                torch.nn.init.normal_(m.weight, std=0.02)
        if norms:
            for m in norms:
                m.reset_running_stats()
                m.momentum = None  # a cumulative average over the passes
            model.train()
            for _ in range(4):
                model(*[x.to(next(model.parameters()).device) for x in make_inputs(8)])
    model.eval()


class _LastHidden(torch.nn.Module):
    """A transformers model returning its last hidden state as a plain tensor."""

    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, ids):
        return self.model(input_ids=ids, use_cache=False, return_dict=False)[0]


def time_cuda(fn, inputs, warmup: int, iters: int, budget_s: float = 20.0):
    """Per-iteration latencies in ms from CUDA events (after warm-up), stopping early past the time budget."""
    with torch.inference_mode():
        for _ in range(warmup):
            fn(*inputs)
        torch.cuda.synchronize()
        starts = [torch.cuda.Event(enable_timing=True) for _ in range(iters)]
        ends = [torch.cuda.Event(enable_timing=True) for _ in range(iters)]
        begin = time.perf_counter()
        done = 0
        for i in range(iters):
            starts[i].record()
            fn(*inputs)
            ends[i].record()
            done += 1
            if time.perf_counter() - begin > budget_s and done >= 10:
                break
        torch.cuda.synchronize()
    times = sorted(s.elapsed_time(e) for s, e in zip(starts[:done], ends[:done]))
    median = times[len(times) // 2]
    p99 = times[min(len(times) - 1, int(math.ceil(0.99 * len(times))) - 1)]
    return median, p99


def compare(actual: torch.Tensor, reference: torch.Tensor):
    a = actual.float().flatten()
    r = reference.float().flatten()
    err = (a - r).abs().max().item()
    cosine = torch.nn.functional.cosine_similarity(a, r, dim=0).item()
    return err, cosine


def bench_one(name: str, batch: int, args) -> dict:
    model32, make_inputs = make_model(name)
    model32 = model32.eval().cuda()
    calibrate(model32, make_inputs)
    inputs32 = [x.cuda() for x in make_inputs(batch)]
    with torch.inference_mode():
        reference = model32(*inputs32)
    # .half() converts in place: the float32 reference is computed first.
    model = model32.half()
    inputs = [x.half() if x.is_floating_point() else x for x in inputs32]
    cnn = name in CNNS
    entry = {"model": name, "batch": batch, "dtype": "float16"}

    # Kiln: a cold build with a fresh timing cache, then a build that reuses the cache.
    cache = os.path.join(tempfile.mkdtemp(), "kiln_timing.cache")
    # Kiln allocates outside torch's caching allocator and counts what it holds (torch_kiln.runtime.memory_stats).
    gc.collect()
    torch_kiln.runtime.reset_peak_memory_stats("cuda")
    held_before = torch_kiln.runtime.memory_stats("cuda")["current_bytes"]
    start = time.perf_counter()
    kiln = torch_kiln.compile(model, inputs=inputs, device="cuda", min_block_size=1, timing_cache_path=cache)
    entry["build_s"] = time.perf_counter() - start
    start = time.perf_counter()
    kiln_cached = torch_kiln.compile(model, inputs=inputs, device="cuda", min_block_size=1, timing_cache_path=cache)
    entry["build_cached_s"] = time.perf_counter() - start
    # build_s covers capture, lowering and conversion too; the engine builder's own share shows what the
    # timing cache saves (its tactic timings: timed cold, cache hits the second time).
    for suffix, compiled in (("", kiln), ("_cached", kiln_cached)):
        reports = [m.build_report for m in compiled.modules() if isinstance(m, torch_kiln.runtime.KilnEngineModule)]
        entry[f"engine_build{suffix}_s"] = sum(r.get("build_seconds", 0.0) for r in reports)
        entry[f"tactics_timed{suffix}"] = sum(r.get("tactics_timed", 0) for r in reports)
        entry[f"timing_cache_hits{suffix}"] = sum(r.get("timing_cache_hits", 0) for r in reports)
    del kiln_cached
    entry["build_peak_mem_mb"] = (torch_kiln.runtime.memory_stats("cuda")["peak_bytes"] - held_before) / 2**20
    engines = [m for m in kiln.modules() if isinstance(m, torch_kiln.runtime.KilnEngineModule)]
    entry["engines"] = len(engines)
    # The memory plan: activation bytes with buffer reuse against the sum of every activation.
    entry["activation_planned_mb"] = sum(e.build_report.get("planned_activation_bytes", 0) for e in engines) / 2**20
    entry["activation_total_mb"] = sum(e.build_report.get("total_activation_bytes", 0) for e in engines) / 2**20
    with torch.inference_mode():
        out = kiln(*inputs)
    torch.cuda.synchronize()
    entry["max_abs_err"], entry["cosine"] = compare(out, reference)
    # Peak while running: weights, activations, workspace (the outputs are torch tensors).
    gc.collect()
    torch_kiln.runtime.reset_peak_memory_stats("cuda")
    entry["kiln_ms"], entry["kiln_p99_ms"] = time_cuda(kiln, inputs, args.warmup, args.iters)
    entry["peak_mem_mb"] = (torch_kiln.runtime.memory_stats("cuda")["peak_bytes"] - held_before) / 2**20
    if args.profile:
        with torch_kiln.runtime.profile() as prof:
            with torch.inference_mode():
                for _ in range(3):
                    kiln(*inputs)
        entry["profile_top"] = prof.table(top=12)
        prof.save_chrome_trace(os.path.join(args.out_dir, f"trace_{name}_b{batch}.json"))
    del kiln, out
    gc.collect()
    torch.cuda.empty_cache()

    # Eager, as a user would run it in half precision.
    torch.backends.cudnn.benchmark = True
    eager = model.to(memory_format=torch.channels_last) if cnn else model
    eager_inputs = [x.to(memory_format=torch.channels_last) for x in inputs] if cnn else inputs
    entry["eager_ms"], _ = time_cuda(eager, eager_inputs, args.warmup, args.iters)
    if not args.skip_compile:
        for key, mode in (("compile_ms", None), ("compile_reduce_overhead_ms", "reduce-overhead")):
            torch._dynamo.reset()
            try:
                compiled = torch.compile(eager, mode=mode) if mode else torch.compile(eager)
                entry[key], _ = time_cuda(compiled, eager_inputs, max(args.warmup, 5), args.iters)
                del compiled
            except Exception as exc:  # torch.compile failing is a result too; Kiln's numbers stay
                entry[key] = None
                entry[key.replace("_ms", "_error")] = f"{type(exc).__name__}: {str(exc)[:300]}"
    torch.backends.cudnn.benchmark = False
    entry["throughput_per_s"] = batch / entry["kiln_ms"] * 1000.0
    del model, model32, eager
    gc.collect()
    torch.cuda.empty_cache()
    return entry


def prewarm_compile(name: str, batch: int) -> None:
    """Compile the entry with torch.compile in both modes and run it once, timing nothing: this fills
    torch.compile's on-disk caches (generated and compiled Triton kernels), so that a timed run on the same
    machine afterwards spends less time compiling. Autotuning results are not kept (they may come from a busy
    GPU): the timed run tunes again."""
    import torch._inductor.config as inductor_config

    inductor_config.autotune_local_cache = False
    model32, make_inputs = make_model(name)
    cnn = name in CNNS
    model = model32.eval().cuda().half()
    inputs = [x.cuda().half() if x.is_floating_point() else x.cuda() for x in make_inputs(batch)]
    if cnn:
        model = model.to(memory_format=torch.channels_last)
        inputs = [x.to(memory_format=torch.channels_last) for x in inputs]
    torch.backends.cudnn.benchmark = True
    with torch.inference_mode():
        for mode in (None, "reduce-overhead"):
            torch._dynamo.reset()
            compiled = torch.compile(model, mode=mode) if mode else torch.compile(model)
            for _ in range(3):
                compiled(*inputs)
    torch.cuda.synchronize()


def suite_entries(models, batches):
    """(model, batch) pairs: "name:batch" picks one entry, a bare name takes --batches or the suite's two."""
    entries = []
    for spec in models:
        name, _, batch = spec.partition(":")
        if name not in SUITE:
            sys.exit(f"unknown model {name}; the suite has {sorted(SUITE)}")
        entries += [(name, int(batch))] if batch else [(name, b) for b in batches or SUITE[name]]
    return entries


def gpu_slug() -> str:
    return re.sub(r"[^A-Za-z0-9]+", "_", torch.cuda.get_device_name()).strip("_").lower()


def write_markdown(path: str, gpu: str, entries) -> None:
    def ms(value):
        return "–" if value is None else f"{value:.3f}"

    lines = [f"# Kiln benchmark on {gpu}", "", "float16, random weights; latencies are medians of CUDA-event timings "
             "(ms). Ratios below 1 mean Kiln is faster. Build: torch_kiln.compile end to end (capture, lowering, "
             "conversion, engine) cold and with the timing cache of the cold build; engine build: the builder's part.",
             "",
             "| model | batch | Kiln | Kiln p99 | eager | compile | compile r-o | Kiln/eager | Kiln/best compile "
             "| build s (cached) | engine build s (cached) | mem MB | activations MB planned / sum | max err | cosine |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    vs_eager, vs_compile = [], []
    for e in entries:
        if "error" in e:
            lines.append(f"| {e['model']} | {e['batch']} | failed: {e['error'][:80]} |" + " |" * 12)
            continue
        # A compile mode that was skipped (--skip-compile) or failed has no time.
        compiled = [e[k] for k in ("compile_ms", "compile_reduce_overhead_ms") if e.get(k) is not None]
        best = min(compiled) if compiled else float("nan")
        r_eager = e["kiln_ms"] / e["eager_ms"]
        activations = (f"{e['activation_planned_mb']:.0f} / {e['activation_total_mb']:.0f}"
                       if "activation_planned_mb" in e else "–")
        r_comp = e["kiln_ms"] / best
        engine_build = (f"{e['engine_build_s']:.1f} ({e['engine_build_cached_s']:.1f})"
                        if "engine_build_s" in e else "–")
        vs_eager.append(r_eager)
        if not math.isnan(r_comp):
            vs_compile.append(r_comp)
        lines.append(
            f"| {e['model']} | {e['batch']} | {e['kiln_ms']:.3f} | {e['kiln_p99_ms']:.3f} | {e['eager_ms']:.3f} | "
            f"{ms(e.get('compile_ms'))} | {ms(e.get('compile_reduce_overhead_ms'))} | "
            f"{r_eager:.2f} | {r_comp:.2f} | {e['build_s']:.1f} ({e['build_cached_s']:.1f}) | {engine_build} | "
            f"{e['peak_mem_mb']:.0f} | "
            f"{activations} | {e['max_abs_err']:.3g} | {e['cosine']:.5f} |")

    def geomean(xs):
        return math.exp(sum(math.log(x) for x in xs) / len(xs)) if xs else float("nan")

    lines += ["", f"Geometric mean Kiln/eager: {geomean(vs_eager):.3f}; Kiln/best torch.compile: {geomean(vs_compile):.3f}"]
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", nargs="*", default=list(SUITE), help="names, or name:batch for one entry")
    parser.add_argument("--batches", nargs="*", type=int, help="default: each model's two suite batches")
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--iters", type=int, default=100)
    parser.add_argument("--skip-compile", action="store_true", help="only Kiln and eager (quick runs)")
    parser.add_argument("--profile", action="store_true", help="also record Kiln's per-layer profile")
    parser.add_argument("--out-dir", default=os.path.join(HERE, "results"))
    parser.add_argument("--prewarm-compile", action="store_true",
                        help="only fill torch.compile's caches for the entries (no timings, no results)")
    args = parser.parse_args()
    if not torch.cuda.is_available():
        sys.exit("bench/run.py needs a CUDA GPU")
    entries = suite_entries(args.models, args.batches)
    if args.prewarm_compile:
        for name, batch in entries:
            print(f"== prewarming torch.compile for {name} batch {batch}", flush=True)
            prewarm_compile(name, batch)
        return
    os.makedirs(args.out_dir, exist_ok=True)
    gpu = torch.cuda.get_device_name()
    json_path = os.path.join(args.out_dir, f"{gpu_slug()}.json")
    results = {"gpu": gpu, "entries": []}
    if os.path.exists(json_path):
        with open(json_path) as f:
            results = json.load(f)
    for name, batch in entries:
        print(f"== {name} batch {batch}", flush=True)
        try:
            entry = bench_one(name, batch, args)
        except Exception as exc:  # a model Kiln cannot run yet is reported, and the suite goes on
            entry = {"model": name, "batch": batch, "dtype": "float16", "error": f"{type(exc).__name__}: {exc}"}
        print(json.dumps({k: v for k, v in entry.items() if k != "profile_top"}), flush=True)
        if "profile_top" in entry:
            print(entry["profile_top"], flush=True)
        results["entries"] = [e for e in results["entries"] if (e["model"], e["batch"]) != (name, batch)]
        results["entries"].append(entry)
        with open(json_path, "w") as f:
            json.dump(results, f, indent=1)
        gc.collect()
        torch.cuda.empty_cache()
    order = {m: i for i, m in enumerate(SUITE)}
    results["entries"].sort(key=lambda e: (order.get(e["model"], 99), e["batch"]))
    with open(json_path, "w") as f:
        json.dump(results, f, indent=1)
    write_markdown(os.path.join(args.out_dir, f"{gpu_slug()}.md"), gpu, results["entries"])
    print(open(os.path.join(args.out_dir, f"{gpu_slug()}.md")).read())


if __name__ == "__main__":
    main()
