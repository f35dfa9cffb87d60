# exit: 1
simdist simulate --nnodes 1:2 --nproc 2 --rdzv-backend c10d --rdzv-endpoint 192.168.5.228:29400 --hosts 192.168.5.228,192.168.5.229 --start-times 0,10 --rdzv-conf last_call_timeout=5 --work 20
