simdist explain --nnodes 2 --nproc 2 --master-port 29400 -f tree
