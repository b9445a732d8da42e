"""One rank of the sharded tests: runs the cases and writes this rank's results.

argv: out_dir seeds(comma) n buffer_fraction. Launched with RANK/WORLD_SIZE/MASTER_* set.
"""

from __future__ import annotations

import os
import sys

import numpy as np
import torch

torch.set_num_threads(1)
sys.path.insert(0, os.path.dirname(__file__))

import qoxide.distributed as qd  # noqa: E402
from cases import make_case  # noqa: E402


def main() -> None:
    out_dir, seeds, n, frac = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
    res = {}
    runner = None
    for seed in [int(s) for s in seeds.split(",")]:
        for dt in (torch.float64, torch.float32):
            tag = f"{seed}_{str(dt)[-2:]}"
            net, net_ev, x, w, g = make_case(seed, n)
            sn = qd.sharded(net, buffer_fraction=frac)
            runner = sn
            xt = torch.tensor(x, dtype=dt, requires_grad=True)
            wt = torch.tensor(w, dtype=dt, requires_grad=True)
            sn.comm.reset()
            out = sn(xt, wt)
            res[f"fwd_calls_{tag}"] = np.array(
                [
                    sn.comm.calls["all_to_all"],
                    sn.comm.calls["all_reduce"],
                    sn.comm.calls["all_gather"],
                    sn.comm.bytes_sent,
                ]
            )
            *evs, probs, state = out
            res[f"ev_{tag}"] = torch.stack([e.detach() for e in evs], 1).numpy()
            res[f"probs_{tag}"] = probs.numpy()
            res[f"state_{tag}"] = state.numpy()
            # VJP through torch: x and w gradients
            sv = net_ev.sharded(buffer_fraction=frac)  # the method form of qd.sharded
            y = sv(xt, wt)
            sv.comm.reset()
            (y * torch.tensor(g, dtype=dt)).sum().backward()
            res[f"bwd_calls_{tag}"] = np.array(
                [
                    sv.comm.calls["all_to_all"],
                    sv.comm.calls["all_reduce"],
                    sv.comm.calls["all_gather"],
                    sv.comm.bytes_sent,
                ]
            )
            res[f"gx_{tag}"] = xt.grad.numpy()
            res[f"gw_{tag}"] = wt.grad.numpy()
            # Jacobian on theta
            prog = net_ev.program((3,), [(w.size,)])
            theta = prog.theta_numpy(x, w, 2, np.float64 if dt == torch.float64 else np.float32)
            sv.comm.reset()
            res[f"jac_{tag}"] = sv.jacobian_theta(prog, theta)
            res[f"jac_calls_{tag}"] = np.array(
                [
                    sv.comm.calls["all_to_all"],
                    sv.comm.calls["all_reduce"],
                    sv.comm.calls["all_gather"],
                    sv.comm.bytes_sent,
                ]
            )
            plan = sv.plan(prog)
            res[f"plan_{tag}"] = np.array(
                [
                    plan.n_collectives(frac),
                    plan.amps_sent_per_rank,
                    plan.n_swaps,
                    len(prog.observables),
                ]
            )
            plan_full = sn.plan(net.program((3,), [(w.size,)]))
            res[f"planfull_{tag}"] = np.array(
                [plan_full.n_collectives(frac), plan_full.amps_sent_per_rank]
            )
    np.savez(os.path.join(out_dir, f"rank{runner.rank}.npz"), **res)


if __name__ == "__main__":
    main()
