simdist explain -f tree -- torchrun --nnodes=2 --nproc_per_node=2 --node_rank=1 --master_addr=192.168.5.228 --master_port=29400 xxx.py
