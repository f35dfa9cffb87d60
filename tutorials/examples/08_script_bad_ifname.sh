# exit: 2
simdist script --nnodes 2 --hosts 192.168.5.228,192.168.5.229 --ifname ens1f1np1,ens2f1np1,eth0 cluster.py
