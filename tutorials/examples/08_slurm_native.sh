simdist script --slurm-native --nnodes 2 --nproc 8 --job-name cluster cluster.py --epochs 3
