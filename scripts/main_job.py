"""The main job: compile a torchvision ResNet (random weights, nothing downloaded) with Kiln, check it against
eager PyTorch and time both. Runs on CUDA when Kiln has a CUDA backend and a GPU is present, else on the CPU."""

import argparse
import statistics
import time

import torch
import torchvision

import torch_kiln


def timed(fn, x, warmup=3, iters=10):
    cuda = x.is_cuda
    with torch.no_grad():
        for _ in range(warmup):
            fn(x)
        times = []
        for _ in range(iters):
            if cuda:
                torch.cuda.synchronize()
            start = time.perf_counter()
            fn(x)
            if cuda:
                torch.cuda.synchronize()
            times.append((time.perf_counter() - start) * 1e3)
    return statistics.median(times)


def cuda_usable() -> bool:
    """A GPU is present and this build of Kiln has its CUDA backend."""
    if not torch.cuda.is_available():
        return False
    return bool(getattr(torch_kiln._C, "__kiln_has_cuda__", False))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", default="resnet18")
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto")
    args = parser.parse_args()

    torch.manual_seed(0)
    device = args.device if args.device != "auto" else ("cuda" if cuda_usable() else "cpu")
    model = getattr(torchvision.models, args.model)(weights=None).eval().to(device)
    x = torch.randn(args.batch, 3, args.size, args.size, device=device)

    start = time.perf_counter()
    compiled = torch_kiln.compile(model, inputs=[torch_kiln.Input(shape=tuple(x.shape))], min_block_size=1, device=device)
    build_s = time.perf_counter() - start
    engines = [m for m in compiled.modules() if isinstance(m, torch_kiln.runtime.KilnEngineModule)]
    print(f"{args.model} batch {args.batch} on {device}: compiled in {build_s:.1f} s into {len(engines)} Kiln engine(s)")
    print(compiled.kiln_partition_report)

    with torch.no_grad():
        expected = model(x)
        actual = compiled(x)
    max_err = (actual - expected).abs().max().item()
    cosine = torch.nn.functional.cosine_similarity(actual.flatten(), expected.flatten(), dim=0).item()
    eager_ms = timed(model, x)
    kiln_ms = timed(compiled, x)
    print(f"max |kiln - eager| = {max_err:.3e}, cosine similarity {cosine:.6f}")
    where = torch.cuda.get_device_name() if device == "cuda" else f"{torch.get_num_threads()} CPU threads"
    print(f"eager PyTorch {eager_ms:.2f} ms, Kiln {kiln_ms:.2f} ms (float32, median of 10, {where})")
    if max_err > 1e-3:
        raise SystemExit("Kiln's output does not match eager PyTorch")


if __name__ == "__main__":
    main()
