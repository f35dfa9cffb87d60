# exit: 2
simdist simulate --nnodes 2 --start-times 0
