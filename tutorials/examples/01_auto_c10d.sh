simdist explain --nproc 2
