"""Where the GPU time goes, kernel by kernel: Kiln against eager PyTorch for suite entries.

    python bench/kernels.py --models convnext_tiny --batches 64

Kiln's own profiler (torch_kiln.runtime.profile) times layers; this script times the kernels under them. It
runs torch.profiler with CUDA activity tracing, which records every kernel the process launches, the ones
from Kiln's engine (cuBLASLt, cuDNN, NVRTC and Kiln's own) included, and prints the kernels with the most
GPU time per forward pass, for Kiln and for eager (half; channels_last and cudnn.benchmark for CNNs).
"""

import argparse
import os
import sys

import torch
from torch.profiler import ProfilerActivity, profile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from run import CNNS, SUITE, calibrate, make_model, suite_entries  # noqa: E402

import torch_kiln  # noqa: E402  (run.py put the package on the path)


def kernel_table(fn, inputs, passes: int, top: int) -> str:
    """The `top` kernels by GPU time, in microseconds per forward pass, with their share of the total."""
    with torch.inference_mode():
        for _ in range(5):
            fn(*inputs)
        torch.cuda.synchronize()
        with profile(activities=[ProfilerActivity.CUDA]) as prof:
            for _ in range(passes):
                fn(*inputs)
            torch.cuda.synchronize()
    totals = {}
    for event in prof.events():
        if event.device_type != torch.autograd.DeviceType.CUDA:
            continue
        us, calls = totals.get(event.name, (0.0, 0))
        totals[event.name] = (us + event.time_range.elapsed_us(), calls + 1)
    grand = sum(us for us, _ in totals.values()) or 1.0
    lines = [f"{'us/pass':>9} {'calls':>6} {'share':>6}  kernel"]
    for name, (us, calls) in sorted(totals.items(), key=lambda kv: -kv[1][0])[:top]:
        lines.append(f"{us / passes:9.1f} {calls // passes:6d} {100 * us / grand:5.1f}%  {name[:150]}")
    lines.append(f"{grand / passes:9.1f} total GPU time per pass over {len(totals)} kernels")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", nargs="*", default=list(SUITE), help="names, or name:batch for one entry")
    parser.add_argument("--batches", nargs="*", type=int, help="default: each model's two suite batches")
    parser.add_argument("--passes", type=int, default=10)
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--no-eager", action="store_true", help="only Kiln's kernels")
    args = parser.parse_args()
    if not torch.cuda.is_available():
        sys.exit("bench/kernels.py needs a CUDA GPU")
    for name, batch in suite_entries(args.models, args.batches):
        model32, make_inputs = make_model(name)
        model32 = model32.eval().cuda()
        calibrate(model32, make_inputs)
        model = model32.half()
        inputs = [x.cuda().half() if x.is_floating_point() else x.cuda() for x in make_inputs(batch)]
        kiln = torch_kiln.compile(model, inputs=inputs, device="cuda", min_block_size=1)
        print(f"== {name} batch {batch}: Kiln", flush=True)
        print(kernel_table(kiln, inputs, args.passes, args.top), flush=True)
        del kiln
        if not args.no_eager:
            torch.backends.cudnn.benchmark = True
            cnn = name in CNNS
            eager = model.to(memory_format=torch.channels_last) if cnn else model
            eager_inputs = [x.to(memory_format=torch.channels_last) for x in inputs] if cnn else inputs
            print(f"== {name} batch {batch}: eager", flush=True)
            print(kernel_table(eager, eager_inputs, args.passes, args.top), flush=True)
            torch.backends.cudnn.benchmark = False
        torch.cuda.empty_cache()


if __name__ == "__main__":
    main()
