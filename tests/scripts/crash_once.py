"""Rank 1 crashes in the first attempt; torchrun restarts the group (--max-restarts 1) and it succeeds.

The first attempt ends before any rank joins the process group: in torch 2.13 a restarted
gloo group meets its peers' stale addresses from the previous attempt in the same store,
and whether it trips on them depends on timing (see the docs). Rank 0 waits long enough
to be stopped by torchrun (SIGTERM) when rank 1 fails.
"""

import os
import time

import torch
import torch.distributed as dist

rank = int(os.environ["RANK"])
attempt = int(os.environ["TORCHELASTIC_RESTART_COUNT"])
print(f"rank {rank} attempt {attempt}", flush=True)
if attempt == 0:
    if rank == 1:
        raise RuntimeError("boom on the first attempt")
    time.sleep(60)
dist.init_process_group("gloo")
total = torch.tensor([float(rank + 1)])
dist.all_reduce(total)
print(f"rank {rank} sum {total.item()}")
dist.destroy_process_group()
