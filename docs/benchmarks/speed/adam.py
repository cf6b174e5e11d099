"""Fused Adam against the per-tensor one, in whole default fits and in the optimiser's share of a step.

Run from the repository root, nothing else busy: ``python docs/benchmarks/speed/adam.py`` (output in
``adam.txt``). First the optimiser tail of one step of the default EB networks (gradient clipping, Adam, the
EMA update; 384 path samples), then three pairs of default fits of EB with time 2 held out, the two
optimisers alternated in one process (after one fit that pays the imports), each pair's training-loop time
(``uns["scam"]["training"]["loop_seconds"]``) and a velocity to show the fits agree up to rounding.
"""

import copy
import time

import torch
from torch import nn

import scam
import scam.core.train as train
from scam.core.network import ActionNet, GrowthNet

torch.set_num_threads(1)
scam.settings.n_threads = 1
FUSED = train._adam


def plain(params, *, lr, weight_decay):
    """The per-tensor (``foreach``) Adam, as before."""
    return torch.optim.Adam(params, lr=lr, weight_decay=weight_decay)


def tail_ms(make, repeats: int = 300) -> float:
    """Milliseconds of clipping + Adam + EMA per step on the default networks' gradients."""
    torch.manual_seed(0)
    nets = nn.ModuleList([ActionNet(5), GrowthNet(5, (64, 64))])
    ema = copy.deepcopy(nets).requires_grad_(False)
    opt = make(list(nets.parameters()), lr=5e-3, weight_decay=0.0)
    for p in nets.parameters():
        p.grad = torch.randn_like(p) * 1e-3

    def step():
        nn.utils.clip_grad_norm_(nets.parameters(), 1.0)
        opt.step()
        with torch.no_grad():  # as scam.core.train.train_action does
            for p_ema, p in zip(ema.parameters(), nets.parameters(), strict=True):
                p_ema.lerp_(p, 1e-3)

    for _ in range(30):
        step()
    start = time.perf_counter()
    for _ in range(repeats):
        step()
    return 1e3 * (time.perf_counter() - start) / repeats


if __name__ == "__main__":
    print(f"torch {torch.__version__}, one thread")
    print(f"optimiser tail per step: per-tensor {tail_ms(plain):.2f} ms, fused {tail_ms(FUSED):.2f} ms")
    adata = scam.datasets.embryoid_body()
    fold = adata[adata.obs["time"].to_numpy() != 2].copy()
    scam.tl.fit(fold, "time", progress_bar=False, random_state=0)
    for pair in range(3):
        row = []
        for name, make in (("per-tensor", plain), ("fused", FUSED)):
            train._adam = make
            start = time.perf_counter()
            scam.tl.fit(fold, "time", progress_bar=False, random_state=0)
            total = time.perf_counter() - start
            loop = fold.uns["scam"]["training"]["loop_seconds"]
            velocity = float(fold.obsm["scam_velocity"][0, 0])
            row.append(f"{name}: loop {loop:.2f} s, fit {total:.2f} s, velocity[0, 0] {velocity:.8f}")
        print(f"pair {pair + 1}: " + "; ".join(row), flush=True)
    train._adam = FUSED
