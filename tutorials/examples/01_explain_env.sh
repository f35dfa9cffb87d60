simdist explain --nnodes 2 --nproc 2 --master-addr 192.168.5.228 --master-port 29400 --node-rank 1 -f env
