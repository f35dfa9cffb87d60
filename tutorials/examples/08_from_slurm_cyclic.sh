simdist explain --from slurm -- --nodes 2 --ntasks-per-node 4 --distribution cyclic
