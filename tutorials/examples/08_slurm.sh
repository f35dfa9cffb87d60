simdist script --slurm --nnodes 2 --nproc 8 --cpus-per-task 32 --job-name cluster cluster.py --epochs 3
