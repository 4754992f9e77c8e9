#!/usr/bin/env python3
"""Writes the PyTorch reference fixtures that mosaic's interop tests load.

Each fixture is one safetensors file in crates/mosaic/tests/fixtures/ holding
  layer.*    the module's state_dict, exactly as PyTorch names and lays it out,
  input.{m}  the inputs (one per modality, or the one sequence / feature batch),
  output     the module's output in eval mode.

The modules follow the reference code of the papers:
  - TFN (Zadeh et al. 2017): ones prepended, outer product by successive batched matrix
    products, flattened row-major, then nn.Linear(P, out) (`post_fusion`).
  - LMF (Liu et al. 2018): factors [rank, d + 1, out] (kept in an nn.ParameterList so that
    they are trained), fusion_weights [1, rank], fusion_bias [1, out]; and the original
    three-modality naming (audio_factor, video_factor, text_factor).
  - SubNet / TextSubNet: the unimodal sub-networks of the TFN/LMF code.

Usage: python3 scripts/make_fixtures.py  (needs torch, safetensors; PyPI).
"""
import os

import torch
from safetensors.torch import save_file
from torch import nn

OUT = os.path.join(os.path.dirname(__file__), "..", "crates", "mosaic", "tests", "fixtures")


def ones_first(z):
    return torch.cat([torch.ones(z.shape[0], 1, dtype=z.dtype), z], dim=1)


class TensorFusion(nn.Module):
    def __init__(self, dims, out):
        super().__init__()
        p = 1
        for d in dims:
            p *= d + 1
        self.post_fusion = nn.Linear(p, out)

    def forward(self, inputs):
        batch = inputs[0].shape[0]
        fused = ones_first(inputs[0])
        for z in inputs[1:]:
            fused = torch.bmm(fused.unsqueeze(2), ones_first(z).unsqueeze(1)).view(batch, -1)
        return self.post_fusion(fused)


class LowRankFusion(nn.Module):
    def __init__(self, dims, out, rank):
        super().__init__()
        self.factors = nn.ParameterList(
            [nn.Parameter(torch.empty(rank, d + 1, out)) for d in dims]
        )
        self.fusion_weights = nn.Parameter(torch.empty(1, rank))
        self.fusion_bias = nn.Parameter(torch.empty(1, out))
        for f in self.factors:
            nn.init.xavier_normal_(f)
        nn.init.xavier_normal_(self.fusion_weights)
        nn.init.normal_(self.fusion_bias)

    def forward(self, inputs):
        product = None
        for z, factor in zip(inputs, self.factors):
            projected = torch.matmul(ones_first(z), factor)  # [rank, batch, out]
            product = projected if product is None else product * projected
        out = torch.matmul(self.fusion_weights, product.permute(1, 0, 2)).squeeze(1)
        return out + self.fusion_bias


class OriginalLmf(nn.Module):
    """The three-modality LMF fusion with the original code's parameter names."""

    def __init__(self, audio, video, text, out, rank):
        super().__init__()
        self.audio_factor = nn.Parameter(torch.empty(rank, audio + 1, out))
        self.video_factor = nn.Parameter(torch.empty(rank, video + 1, out))
        self.text_factor = nn.Parameter(torch.empty(rank, text + 1, out))
        self.fusion_weights = nn.Parameter(torch.empty(1, rank))
        self.fusion_bias = nn.Parameter(torch.empty(1, out))
        for p in [self.audio_factor, self.video_factor, self.text_factor, self.fusion_weights]:
            nn.init.xavier_normal_(p)
        nn.init.normal_(self.fusion_bias)

    def forward(self, inputs):
        a, v, t = [ones_first(z) for z in inputs]
        fusion_zy = (
            torch.matmul(a, self.audio_factor)
            * torch.matmul(v, self.video_factor)
            * torch.matmul(t, self.text_factor)
        )
        out = torch.matmul(self.fusion_weights, fusion_zy.permute(1, 0, 2)).squeeze()
        return out + self.fusion_bias


class Concat(nn.Module):
    def forward(self, inputs):
        return torch.cat(inputs, dim=1)


class Elementwise(nn.Module):
    def __init__(self, dims, width, product):
        super().__init__()
        self.projections = nn.ModuleList([nn.Linear(d, width) for d in dims])
        self.product = product

    def forward(self, inputs):
        out = None
        for z, p in zip(inputs, self.projections):
            h = p(z)
            out = h if out is None else (out * h if self.product else out + h)
        return out


class MlpFusion(nn.Module):
    def __init__(self, dims, hidden, out):
        super().__init__()
        widths = [sum(dims)] + hidden + [out]
        self.layers = nn.ModuleList([nn.Linear(a, b) for a, b in zip(widths, widths[1:])])

    def forward(self, inputs):
        h = torch.cat(inputs, dim=1)
        for layer in self.layers[:-1]:
            h = torch.relu(layer(h))
        return self.layers[-1](h)


class SubNet(nn.Module):
    """TFN/LMF SubNet: BatchNorm1d, dropout, three Linear+ReLU."""

    def __init__(self, in_size, hidden, dropout=0.2):
        super().__init__()
        self.norm = nn.BatchNorm1d(in_size)
        self.drop = nn.Dropout(p=dropout)
        self.linear_1 = nn.Linear(in_size, hidden)
        self.linear_2 = nn.Linear(hidden, hidden)
        self.linear_3 = nn.Linear(hidden, hidden)

    def forward(self, x):
        y = self.drop(self.norm(x))
        y = torch.relu(self.linear_1(y))
        y = torch.relu(self.linear_2(y))
        return torch.relu(self.linear_3(y))


class TextSubNet(nn.Module):
    """TFN/LMF TextSubNet: one-layer LSTM, dropout, Linear on the final hidden state."""

    def __init__(self, in_size, hidden, out, dropout=0.2):
        super().__init__()
        self.rnn = nn.LSTM(in_size, hidden, num_layers=1, batch_first=True)
        self.dropout = nn.Dropout(dropout)
        self.linear_1 = nn.Linear(hidden, out)

    def forward(self, x):
        _, final_states = self.rnn(x)
        h = self.dropout(final_states[0].squeeze(0))
        return self.linear_1(h)


def write(name, module, inputs):
    module.eval()
    with torch.no_grad():
        output = module(inputs if isinstance(inputs, list) else inputs)
    tensors = {f"layer.{k}": v.detach().float().contiguous() for k, v in module.state_dict().items()
               if v.is_floating_point()}
    listed = inputs if isinstance(inputs, list) else [inputs]
    for m, z in enumerate(listed):
        tensors[f"input.{m}"] = z.contiguous()
    tensors["output"] = output.contiguous()
    save_file(tensors, os.path.join(OUT, f"{name}.safetensors"))
    print(f"{name}: output {tuple(output.shape)}, {len(tensors)} tensors")


def modality_inputs(dims, batch):
    return [torch.randn(batch, d) for d in dims]


def main():
    torch.manual_seed(777)
    os.makedirs(OUT, exist_ok=True)
    write("tensor_fusion_3", TensorFusion([3, 2, 4], 5), modality_inputs([3, 2, 4], 4))
    write("tensor_fusion_5", TensorFusion([2, 1, 2, 3, 1], 3), modality_inputs([2, 1, 2, 3, 1], 3))
    write("bilinear", TensorFusion([4, 3], 2), modality_inputs([4, 3], 5))
    write("low_rank_fusion", LowRankFusion([3, 2, 4], 5, 4), modality_inputs([3, 2, 4], 4))
    write("low_rank_fusion_original", OriginalLmf(3, 2, 4, 5, 3), modality_inputs([3, 2, 4], 4))
    write("concat", Concat(), modality_inputs([3, 2], 2))
    write("elementwise_sum", Elementwise([3, 2, 4], 5, product=False), modality_inputs([3, 2, 4], 3))
    write("elementwise_product", Elementwise([3, 2, 4], 5, product=True), modality_inputs([3, 2, 4], 3))
    write("mlp_fusion", MlpFusion([3, 2], [6, 4], 2), modality_inputs([3, 2], 3))
    subnet = SubNet(5, 4)
    with torch.no_grad():
        subnet.norm.running_mean.copy_(torch.randn(5))
        subnet.norm.running_var.copy_(torch.rand(5) + 0.5)
        subnet.norm.weight.copy_(torch.randn(5))
        subnet.norm.bias.copy_(torch.randn(5))
    write("mlp_subnet", subnet, torch.randn(3, 5))
    write("lstm_subnet", TextSubNet(4, 6, 3), torch.randn(2, 7, 4))


if __name__ == "__main__":
    main()
