"""A typical torchrun training script: init_process_group from torchrun's env, DDP, a sampler, the loop.

Run it on the virtual cluster, unmodified::

    simdist simulate --nnodes 2 --nproc 2 tutorials/examples/scripts/train.py --epochs 3
"""

import argparse
import os

import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader, DistributedSampler, TensorDataset


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--lr", type=float, default=0.05)
    args = parser.parse_args()

    dist.init_process_group(backend="gloo", init_method="env://")  # reads RANK, WORLD_SIZE, MASTER_ADDR/PORT
    rank, world = dist.get_rank(), dist.get_world_size()
    local_rank = int(os.environ["LOCAL_RANK"])
    torch.manual_seed(0)  # the same initial model on every rank
    model = DistributedDataParallel(torch.nn.Linear(4, 1))
    optimizer = torch.optim.SGD(model.parameters(), lr=args.lr)
    data = TensorDataset(torch.arange(64.0).reshape(16, 4) / 64, torch.ones(16, 1))
    sampler = DistributedSampler(data)  # each rank gets its own share of the data
    loader = DataLoader(data, batch_size=2, sampler=sampler)
    for epoch in range(args.epochs):
        sampler.set_epoch(epoch)
        for x, y in loader:
            optimizer.zero_grad()
            loss = torch.nn.functional.mse_loss(model(x), y)
            loss.backward()  # DDP all-reduces the gradients here
            optimizer.step()
        if rank == 0:
            print(f"epoch {epoch}: loss {loss.item():.4f}")
    weight = model.module.weight.detach()
    print(f"RANK {rank} (LOCAL_RANK {local_rank}) of {world}: weight sum {weight.sum().item():.6f}")
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
