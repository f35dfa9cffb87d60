# exit: 1
simdist simulate --nnodes 1 --nproc 2 --master-port 29400 --start-times 0 --scenario broken_order --env TORCH_DISTRIBUTED_DEBUG=DETAIL
