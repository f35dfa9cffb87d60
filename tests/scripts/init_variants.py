"""init_process_group spelled every way torch accepts, and with a world size torchrun did not give."""

import datetime
import os
import sys

import torch
import torch.distributed as dist

how = sys.argv[1]
rank, world = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])
if how == "tcp":
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{int(os.environ['MASTER_PORT']) + 7}", rank=rank, world_size=world)
elif how == "file":
    dist.init_process_group("gloo", init_method=f"file://{sys.argv[2]}", rank=rank, world_size=world)
elif how == "none":
    dist.init_process_group()
elif how == "mixed":
    dist.init_process_group("cpu:gloo,cuda:nccl")
elif how == "smaller":
    dist.init_process_group("gloo", rank=rank, world_size=world - 1, timeout=datetime.timedelta(seconds=10))
elif how == "wrongsize":
    dist.init_process_group("gloo", rank=rank, world_size=world + 1, timeout=datetime.timedelta(seconds=10))
t = torch.tensor([float(rank)])
dist.all_reduce(t)
print(how, dist.get_backend(), t.item())
