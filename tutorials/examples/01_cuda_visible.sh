simdist explain --nnodes 2 --nproc 2 --master-addr 192.168.5.228 --master-port 29400 --gpus-per-node 4 --cuda-visible-devices 2,3 -f tree
