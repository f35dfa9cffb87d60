# exit: 2
simdist simulate --nproc 2 --scenario allreduce --profile tutorials/examples/09_plot.sh
