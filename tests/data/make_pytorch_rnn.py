"""Generates tests/data/pytorch_rnn.safetensors with real PyTorch.

The fixture of tests/pytorch_weights.rs was produced by this script with
torch 2.15.0 (CPU execution of the PyPI wheel) and safetensors 0.8.0:

    python -m venv venv && venv/bin/pip install torch==2.15.0 safetensors
    venv/bin/python tests/data/make_pytorch_rnn.py

It holds, under PyTorch's own state_dict names and layouts:

* `lstm.*`: the parameters of nn.LSTM(3, 4, num_layers=2, bidirectional=True)
  (`lstm.weight_ih_l0`, `lstm.weight_hh_l0_reverse`, `lstm.bias_hh_l1`, ...),
* `gru.*`: the same for nn.GRU(3, 4, num_layers=2, bidirectional=True),
* `input` (T=5, B=2, 3), time first,
* `lstm.h0`, `lstm.c0`, `gru.h0` (L*D=4, B=2, H=4): non-zero initial states,
* what PyTorch computes from them: `lstm.output` (5, 2, 8), `lstm.h_n`,
  `lstm.c_n`, `gru.output`, `gru.h_n` (4, 2, 4); and the same modules run
  from zero states: `lstm.output_zero_state`, `gru.output_zero_state`.

All tensors are float32, computed in float64 and rounded once, so the
expected outputs carry no float32 accumulation error of PyTorch's own.
"""

import os

import torch
from safetensors.torch import save_file

T, B, I, H, L = 5, 2, 3, 4, 2


def main():
    torch.manual_seed(20261201)
    lstm = torch.nn.LSTM(I, H, num_layers=L, bidirectional=True).double()
    gru = torch.nn.GRU(I, H, num_layers=L, bidirectional=True).double()
    x = torch.randn(T, B, I, dtype=torch.float64)
    h0 = 0.5 * torch.randn(L * 2, B, H, dtype=torch.float64)
    c0 = 0.5 * torch.randn(L * 2, B, H, dtype=torch.float64)
    g0 = 0.5 * torch.randn(L * 2, B, H, dtype=torch.float64)
    out = {}
    with torch.no_grad():
        lo, (lh, lc) = lstm(x, (h0, c0))
        go, gh = gru(x, g0)
        lz, _ = lstm(x)
        gz, _ = gru(x)
    for prefix, module in (("lstm", lstm), ("gru", gru)):
        for name, p in module.state_dict().items():
            out[f"{prefix}.{name}"] = p
    out.update({
        "input": x,
        "lstm.h0": h0,
        "lstm.c0": c0,
        "gru.h0": g0,
        "lstm.output": lo,
        "lstm.h_n": lh,
        "lstm.c_n": lc,
        "gru.output": go,
        "gru.h_n": gh,
        "lstm.output_zero_state": lz,
        "gru.output_zero_state": gz,
    })
    out = {k: v.detach().to(torch.float32).contiguous() for k, v in out.items()}
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "pytorch_rnn.safetensors")
    save_file(out, path, metadata={"generator": f"tests/data/make_pytorch_rnn.py, torch {torch.__version__}"})
    print(f"wrote {path}: {len(out)} tensors")
    for k in sorted(out):
        print(f"  {k} {tuple(out[k].shape)}")


if __name__ == "__main__":
    main()
