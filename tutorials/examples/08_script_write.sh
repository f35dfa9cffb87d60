simdist script --nnodes 2 --nproc 2 --master-port 29400 --hosts 192.168.5.228,192.168.5.229 --env-for 1:NCCL_IB_HCA=mlx5_0 -o launch.sh cluster.py --epochs 3
