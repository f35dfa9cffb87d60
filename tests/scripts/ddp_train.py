"""A typical DDP training script (tests run it unmodified in the simulator and under real torchrun)."""

import argparse
import hashlib

import torch
import torch.distributed as dist
from torch.distributed.elastic.multiprocessing.errors import record
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader, DistributedSampler, TensorDataset


def fingerprint(model: torch.nn.Module) -> str:
    """The parameters' exact bits: equal fingerprints mean bit-identical models."""
    digest = hashlib.sha256()
    for parameter in model.parameters():
        digest.update(parameter.detach().contiguous().view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()[:16]


@record
def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--accumulate", type=int, default=2)
    args = parser.parse_args()
    dist.init_process_group(backend="gloo", init_method="env://")
    rank, world = dist.get_rank(), dist.get_world_size()
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.ReLU(), torch.nn.Linear(16, 1))
    ddp = DistributedDataParallel(model, bucket_cap_mb=0.001)  # several buckets
    optimizer = torch.optim.SGD(ddp.parameters(), lr=0.05)
    generator = torch.Generator().manual_seed(1)
    data = TensorDataset(torch.randn(48, 8, generator=generator), torch.randn(48, 1, generator=generator))
    sampler = DistributedSampler(data, num_replicas=world, rank=rank, shuffle=True, seed=3)
    loader = DataLoader(data, batch_size=4, sampler=sampler, num_workers=0)
    step = 0
    for epoch in range(args.epochs):
        sampler.set_epoch(epoch)
        for x, y in loader:
            step += 1
            if step % args.accumulate:
                with ddp.no_sync():  # accumulate locally, all-reduce on the next step
                    torch.nn.functional.mse_loss(ddp(x), y).backward()
                continue
            loss = torch.nn.functional.mse_loss(ddp(x), y)
            loss.backward()
            optimizer.step()
            optimizer.zero_grad()
    gathered = [None] * world
    dist.all_gather_object(gathered, {"rank": rank, "steps": step})
    shared = [fingerprint(model) if rank == 0 else None]
    dist.broadcast_object_list(shared, src=0)
    dist.barrier()
    same = shared[0] == fingerprint(model)
    print(f"rank {rank}/{world}: steps {[g['steps'] for g in gathered]} params {fingerprint(model)} same-as-rank0 {same}")
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
