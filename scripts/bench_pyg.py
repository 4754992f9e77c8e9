"""PyTorch Geometric baselines for `benches/examples/graph.rs`, on the same generated graph.

    cargo run --release -p mosaic-benches --features flex --example graph -- 100000 1000000 --write /tmp/g.bin
    python scripts/bench_pyg.py /tmp/g.bin --threads 2

Times, on the CPU with a fixed thread count (median of the repetitions after a warm-up):
the GCN-normalised sparse product A X (torch.sparse.mm on a CSR matrix, what PyG's spmm
calls) and its backward A^T G; max aggregation by PyG's scatter (reduce='max') forward and
backward; and a training step (forward, sum, backward) of a 64 -> 64 GCNConv, both as PyG
users write it (edge_index, cached normalisation) and on a precomputed normalised sparse
adjacency (PyG's fastest path), each with its peak memory above the resident size before.
With --blocks (the `.blocks` file `graph --write PATH` leaves beside the graph), also a
neighbour-sampled GraphSAGE epoch on mosaic's very blocks: per batch, gather the features,
two SAGEConv layers (mean, root weight, 64 -> 64 -> classes) on the bipartite blocks,
cross-entropy, backward, an Adam step (PyG's NeighborLoader itself needs pyg-lib or
torch-sparse, which do not install here; the sampling is timed on mosaic's side alone).
Prints JSON.
"""

import argparse
import json
import resource
import statistics
import sys
import time

import numpy as np
import torch
from torch_geometric.nn import GCNConv, SAGEConv
from torch_geometric.utils import add_self_loops, degree, scatter

sys.path.insert(0, __file__.rsplit("/", 1)[0])
from bench_pytorch import timed  # noqa: E402


def rss():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


def peak_of(fn):
    """Peak resident bytes fn adds (VmHWM reset through /proc/self/clear_refs)."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        pass
    before = rss()
    fn()
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return max(0, int(line.split()[1]) * 1024 - before)
    return 0


def read_blocks(path):
    """The batches of a `.blocks` file: per batch, its blocks (targets, sources, node ids,
    edge_index [source, target] in local indices) and its labels."""
    raw = np.fromfile(path, dtype=np.uint32).astype(np.int64)
    at, batches = 1, []
    for _ in range(int(raw[0])):
        blocks = []
        for _ in range(2):
            n, m, e = (int(v) for v in raw[at : at + 3])
            at += 3
            nodes = raw[at : at + m]
            targets = raw[at + m : at + m + e]
            sources = raw[at + m + e : at + m + 2 * e]
            at += m + 2 * e
            blocks.append((n, m, nodes, sources, targets))
        batches.append((blocks, raw[at : at + blocks[-1][0]]))
        at += blocks[-1][0]
    return batches


def sampled_epoch(x, batches, classes):
    """One epoch of two-layer GraphSAGE-mean over the sampled batches."""
    f = x.shape[1]
    convs = [SAGEConv(f, 64), SAGEConv(64, classes)]
    optimizer = torch.optim.Adam([p for c in convs for p in c.parameters()], lr=0.01)

    def epoch():
        for blocks, labels in batches:
            h = x[torch.from_numpy(blocks[0][2])]
            for layer, (n, m, _, sources, targets) in enumerate(blocks):
                edge_index = torch.stack([torch.from_numpy(sources), torch.from_numpy(targets)])
                h = convs[layer]((h, h[:n]), edge_index, size=(m, n))
                if layer == 0:
                    h = torch.relu(h)
            loss = torch.nn.functional.cross_entropy(h, torch.from_numpy(labels))
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()

    return epoch


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("graph")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument(
        "--no-gather",
        action="store_true",
        help="skip the paths that gather one row per edge (scatter max, GCNConv on edge_index): "
        "at 10^7 edges they need more than 23 GB",
    )
    parser.add_argument("--blocks", help="a .blocks file: also time the sampled GraphSAGE epoch on it")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    raw = np.fromfile(args.graph, dtype=np.uint32)
    n, e, f = (int(v) for v in raw[:3])
    pairs = raw[3 : 3 + 2 * e].astype(np.int64).reshape(e, 2)
    x = torch.from_numpy(raw[3 + 2 * e :].view(np.float32).copy()).view(n, f)
    u, v = torch.from_numpy(pairs[:, 0]), torch.from_numpy(pairs[:, 1])
    edge_index = torch.stack([torch.cat([u, v]), torch.cat([v, u])])  # source, target

    # D^-1/2 (A + I) D^-1/2 as a CSR matrix indexed [target, source].
    loops, _ = add_self_loops(edge_index, num_nodes=n)
    src, dst = loops
    deg = degree(dst, n)
    weight = deg[dst].rsqrt() * deg[src].rsqrt()
    adj = torch.sparse_coo_tensor(torch.stack([dst, src]), weight, (n, n)).coalesce().to_sparse_csr()
    adj_t = adj.t().to_sparse_csr()

    grad = torch.randn(n, f)
    results = {"nodes": n, "edges": e, "entries": int(adj._nnz()), "features": f, "threads": args.threads}
    with torch.no_grad():
        results["sum_forward_s"] = timed(lambda: torch.sparse.mm(adj, x), args.repeats, 1)
        results["sum_backward_s"] = timed(lambda: torch.sparse.mm(adj_t, grad), args.repeats, 1)
        if not args.no_gather:
            results["max_forward_s"] = timed(
                lambda: scatter(x[edge_index[0]], edge_index[1], 0, n, reduce="max"), args.repeats, 1
            )

    xg = x.clone().requires_grad_()

    def max_step():
        out = scatter(xg[edge_index[0]], edge_index[1], 0, n, reduce="max")
        out.backward(grad)

    conv = GCNConv(f, f, cached=True)
    sparse_conv = GCNConv(f, f, normalize=False)

    def step():
        conv(x, edge_index).sum().backward()

    def sparse_step():
        sparse_conv(x, adj).sum().backward()

    results["gcn_step_sparse_s"] = timed(sparse_step, args.repeats, 1)
    results["gcn_step_sparse_peak_bytes"] = peak_of(sparse_step)
    if not args.no_gather:
        results["max_forward_backward_s"] = timed(max_step, args.repeats, 1)
        results["gcn_step_edge_index_s"] = timed(step, args.repeats, 1)
        results["gcn_step_edge_index_peak_bytes"] = peak_of(step)
    if args.blocks:
        batches = read_blocks(args.blocks)
        classes = int(max(labels.max() for _, labels in batches)) + 1
        epoch = sampled_epoch(x, batches, max(classes, 16))
        results["sampled_batches"] = len(batches)
        results["sampled_epoch_s"] = timed(epoch, min(args.repeats, 3), 1)
        results["sampled_epoch_peak_bytes"] = peak_of(epoch)
    print(json.dumps(results))


if __name__ == "__main__":
    main()
