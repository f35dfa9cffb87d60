simdist simulate --nnodes 2 --nproc 2 --start-times 0,0 tutorials/examples/scripts/train.py --epochs 3
