# exit: 1
simdist simulate --nnodes 2 --nproc 2 --master-addr 192.168.5.228 --master-port 29400 --hosts 192.168.5.228,192.168.5.229 --start-times 0,0 --fail 1:0@2.5
