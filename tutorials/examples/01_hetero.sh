simdist explain --nnodes 2 --nproc 4,8 --master-addr 192.168.5.228 --master-port 29400 -f tree
