"""PyTorch eager baselines for `cargo xtask bench`'s tensor-fusion and low-rank-fusion cases.

The layers are written as in the reference implementations (TFN: append a 1 to each
modality, batched outer products, flatten, nn.Linear; LMF: per-modality factor matmuls,
element-wise product, rank-weighted sum), timed on the CPU with a fixed thread count:

    python scripts/bench_pytorch.py --threads 2 --batch 256 > pytorch.json

Forward passes run under torch.no_grad(); a training step is forward + backward of the
sum of the outputs (as in mosaic's benchmarks). Prints JSON: seconds per iteration
(median of the timed repetitions) per layer and pass.
"""

import argparse
import json
import statistics
import time

import torch


def tensor_fusion(inputs, linear):
    batch = inputs[0].shape[0]
    ones = torch.ones(batch, 1, dtype=inputs[0].dtype)
    fused = torch.cat([ones, inputs[0]], dim=1)
    for z in inputs[1:]:
        hat = torch.cat([ones, z], dim=1)
        fused = torch.bmm(fused.unsqueeze(2), hat.unsqueeze(1)).view(batch, -1)
    return linear(fused)


def low_rank_fusion(inputs, factors, rank_weights, bias):
    batch = inputs[0].shape[0]
    ones = torch.ones(batch, 1, dtype=inputs[0].dtype)
    product = None
    for z, factor in zip(inputs, factors):
        projection = torch.matmul(torch.cat([ones, z], dim=1), factor)  # [R, B, O]
        product = projection if product is None else product * projection
    out = torch.matmul(rank_weights, product.permute(1, 0, 2)).squeeze(1)
    return out + bias


def timed(fn, repeats, warmup):
    for _ in range(warmup):
        fn()
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--dims", type=str, default="32,32,128")
    parser.add_argument("--out", type=int, default=128)
    parser.add_argument("--rank", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument(
        "--layers",
        type=str,
        default="tfn,lmf",
        help="comma-separated: tfn, lmf (tensor fusion's weight at 1024/1024 -> 512 is 2 GB)",
    )
    args = parser.parse_args()
    layers = set(args.layers.split(","))
    if not layers <= {"tfn", "lmf"}:
        parser.error(f"--layers takes tfn and lmf, not {args.layers}")
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    dims = [int(d) for d in args.dims.split(",")]
    inputs = [torch.rand(args.batch, d) * 2 - 1 for d in dims]
    tracked = [x.clone().requires_grad_(True) for x in inputs]

    p = 1
    for d in dims:
        p *= d + 1
    linear = torch.nn.Linear(p, args.out) if "tfn" in layers else None
    factors = [torch.nn.Parameter(torch.randn(args.rank, d + 1, args.out) * 0.1) for d in dims]
    rank_weights = torch.nn.Parameter(torch.randn(1, args.rank) * 0.1)
    bias = torch.nn.Parameter(torch.zeros(1, args.out))

    def tfn_forward():
        with torch.no_grad():
            tensor_fusion(inputs, linear)

    def tfn_train():
        linear.zero_grad(set_to_none=True)
        tensor_fusion(tracked, linear).sum().backward()

    def lmf_forward():
        with torch.no_grad():
            low_rank_fusion(inputs, factors, rank_weights, bias)

    def lmf_train():
        low_rank_fusion(tracked, factors, rank_weights, bias).sum().backward()

    results = {
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "batch": args.batch,
        "dims": dims,
        "out": args.out,
        "rank": args.rank,
        "seconds": {
            f"{layer}_{pass_}": timed(fn, args.repeats, 3)
            for layer, pass_, fn in [
                ("tfn", "forward", tfn_forward),
                ("tfn", "train", tfn_train),
                ("lmf", "forward", lmf_forward),
                ("lmf", "train", lmf_train),
            ]
            if layer in layers
        },
    }
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
