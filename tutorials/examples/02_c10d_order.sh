simdist explain --nnodes 2 --nproc 2 --rdzv-backend c10d --rdzv-endpoint 10.0.0.9:29400 --hosts 10.0.0.9,10.0.0.10 -f tree
