simdist explain --from mpirun -- mpirun -np 6 -H aa:4,bb:4,cc:4 --map-by node python train.py
