# exit: 1
simdist simulate --nnodes 3 --nproc 2 --master-addr 192.168.5.228 --master-port 29400 --hosts 192.168.5.228,192.168.5.229,192.168.5.230 --start-times 0,1,2 --node-ranks 0,1,1 --rdzv-conf timeout=30
