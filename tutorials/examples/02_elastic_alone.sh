simdist simulate --nnodes 1:2 --nproc 2 --rdzv-backend c10d --rdzv-endpoint 192.168.5.228:29400 --hosts 192.168.5.228,192.168.5.229 --start-times 0,never --rdzv-conf last_call_timeout=5
