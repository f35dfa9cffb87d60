simdist explain --from deepspeed -- deepspeed --hostfile tutorials/examples/08_hostfile --master_addr 192.168.5.228 train.py
