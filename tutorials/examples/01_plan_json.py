"""Read the seed launch's plan as JSON (simdist.plan/1) and print a few fields."""

import json
import subprocess
import sys

command = [sys.executable, "-m", "simdist", "explain", "--nnodes", "2", "--nproc", "2",
           "--master-addr", "192.168.5.228", "--master-port", "29400", "-f", "json"]
plan = json.loads(subprocess.run(command, capture_output=True, text=True, check=True).stdout)

print(plan["schema"], "· world_size", plan["world_size"])
for node in plan["nodes"]:
    print(f"node_rank {node['node_rank']}: ranks {node['ranks']}, gpus {node['gpus']}")
    print(f"  {node['command']}")
for worker in plan["workers"]:
    env = worker["env"]
    print(f"RANK={env['RANK']} LOCAL_RANK={env['LOCAL_RANK']} GPU {worker['gpu']}"
          f"  TORCHELASTIC_ERROR_FILE={env['TORCHELASTIC_ERROR_FILE']!r}")
print("warnings:", [w["code"] for w in plan["warnings"]])
