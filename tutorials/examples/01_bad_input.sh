# exit: 2
simdist explain --nnodes 2 --nproc 2,2,2
