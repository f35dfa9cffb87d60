"""Reads its arguments like any script; the last rank gives up with sys.exit(2)."""

import argparse
import os
import sys

import torch.distributed as dist

parser = argparse.ArgumentParser()
parser.add_argument("--lr", type=float, required=True)
parser.add_argument("names", nargs="*")
args = parser.parse_args()
dist.init_process_group("gloo")
rank, world = dist.get_rank(), dist.get_world_size()
print(f"rank {rank}: lr={args.lr} names={args.names} argv0={os.path.basename(sys.argv[0])} "
      f"file={os.path.basename(__file__)} name={__name__}")
dist.barrier()
if rank == world - 1:
    sys.exit(2)
