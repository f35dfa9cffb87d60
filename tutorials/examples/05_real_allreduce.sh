# expect: │ 3    │ 1    │ 1          │ 1   │ [6.0, 4.0]       │ [6.0, 4.0]      │
# expect: ✓ real torchrun matched the prediction for all 4 ranks
simdist simulate --nnodes 2 --nproc 2 --master-addr 192.168.5.228 --master-port 29400 --scenario allreduce --real --local-nodes
