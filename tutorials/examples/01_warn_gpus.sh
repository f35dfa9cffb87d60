simdist explain --nnodes 2 --nproc 4 --master-addr 192.168.5.228 --master-port 29400 --gpus-per-node 2 -f tree
