"""PyTorch eager baselines for `cargo xtask bench`'s coordination-loss cases and for linear CCA
(`mosaic::coordinated`), timed on the CPU with a fixed thread count:

    python scripts/bench_pytorch_coordinated.py --threads 2 > pytorch-coordinated.json

The losses are written from the published formulas, as mosaic computes them: cosine
similarities of two [n, d] embeddings, then the cosine loss, the VSE hinge ranking loss
(every negative, margin 0.2), VSE++ (hardest negative), the symmetric InfoNCE loss
(temperature 0.07), and the deep CCA objective (total correlation through eigh-based
whitening, ridge 1e-3, in float64 as mosaic computes it; autograd for the backward).
"forward" runs under torch.no_grad(); "train" is forward + backward of the loss. Linear
CCA is fitted on two [n, p] float64 views (covariances, eigh whitening, SVD), as
mosaic's `Cca::fit`. Prints JSON: median seconds per call.
"""

import argparse
import json

import torch
import torch.nn.functional as F

from bench_pytorch import timed  # this folder's script: warm-up, then the median of timed calls


def similarities(a, b):
    return F.normalize(a, dim=1) @ F.normalize(b, dim=1).T


def cosine(a, b):
    return (1 - (F.normalize(a, dim=1) * F.normalize(b, dim=1)).sum(1)).mean()


def hinge(a, b, hardest, margin=0.2):
    s = similarities(a, b)
    n = s.shape[0]
    diagonal = s.diag().view(n, 1)
    mask = torch.eye(n, dtype=torch.bool)
    rows = (margin + s - diagonal).clamp(min=0).masked_fill(mask, 0)
    columns = (margin + s - diagonal.T).clamp(min=0).masked_fill(mask, 0)
    if hardest:
        return (rows.max(1)[0].sum() + columns.max(0)[0].sum()) / n
    return (rows.sum() + columns.sum()) / n


def info_nce(a, b, temperature=0.07):
    logits = similarities(a, b) / temperature
    target = torch.arange(logits.shape[0])
    return (F.cross_entropy(logits, target) + F.cross_entropy(logits.T, target)) / 2


def inverse_root(cov):
    values, vectors = torch.linalg.eigh(cov)
    return vectors @ torch.diag(values.clamp(min=1e-12).rsqrt()) @ vectors.T


def deep_cca(a, b, r=1e-3):
    a, b = a.double(), b.double()
    m = a.shape[0]
    a, b = a - a.mean(0), b - b.mean(0)
    eye = torch.eye(a.shape[1], dtype=a.dtype)
    s11 = a.T @ a / (m - 1) + r * eye
    s22 = b.T @ b / (m - 1) + r * eye
    s12 = a.T @ b / (m - 1)
    t = inverse_root(s11) @ s12 @ inverse_root(s22)
    return -torch.linalg.svdvals(t).sum()


def linear_cca(x, y, k):
    n = x.shape[0]
    x, y = x - x.mean(0), y - y.mean(0)
    sxx, syy, sxy = x.T @ x / (n - 1), y.T @ y / (n - 1), x.T @ y / (n - 1)
    wx, wy = inverse_root(sxx), inverse_root(syy)
    u, d, vt = torch.linalg.svd(wx @ sxy @ wy)
    return d[:k], wx @ u[:, :k], wy @ vt.T[:, :k]


LOSSES = {
    "loss-cosine": cosine,
    "loss-vse": lambda a, b: hinge(a, b, False),
    "loss-vse++": lambda a, b: hinge(a, b, True),
    "loss-infonce": info_nce,
    "loss-dcca": deep_cca,
}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--width", type=int, default=128)
    parser.add_argument("--batches", type=str, default="256,1024,4096")
    parser.add_argument("--cca", type=str, default="100000,256", help="rows,columns of each CCA view")
    parser.add_argument("--repeats", type=int, default=10)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    seconds = {}
    for n in [int(b) for b in args.batches.split(",")]:
        a = torch.rand(n, args.width) * 2 - 1
        b = torch.rand(n, args.width) * 2 - 1
        ta, tb = a.clone().requires_grad_(True), b.clone().requires_grad_(True)
        for name, loss in LOSSES.items():
            def forward():
                with torch.no_grad():
                    loss(a, b)

            def train():
                loss(ta, tb).backward()

            seconds[f"{name}/{n}/forward"] = timed(forward, args.repeats, 2)
            seconds[f"{name}/{n}/train"] = timed(train, args.repeats, 2)
    rows, cols = (int(v) for v in args.cca.split(","))
    x = torch.rand(rows, cols, dtype=torch.float64) * 2 - 1
    y = x @ (torch.rand(cols, cols, dtype=torch.float64) - 0.5) + torch.rand(rows, cols, dtype=torch.float64)
    seconds[f"cca/{rows}x{cols}"] = timed(lambda: linear_cca(x, y, cols // 2), 3, 1)
    print(json.dumps({"torch": torch.__version__, "threads": torch.get_num_threads(), "width": args.width, "seconds": seconds}, indent=1))


if __name__ == "__main__":
    main()
