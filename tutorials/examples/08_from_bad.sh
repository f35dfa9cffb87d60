# exit: 2
simdist explain --from slurm --nnodes 2 -- --nodes 2
