simdist simulate --nnodes 2 --nproc 2 --rdzv-backend c10d --rdzv-endpoint 192.168.5.228:29400 --hosts 192.168.5.228,192.168.5.229 --start-times 0,0 --fail 1:0@4.5 --max-restarts 1 --work 5
