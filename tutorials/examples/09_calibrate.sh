# expect: calibrating gloo: all_reduce, broadcast × 5 sizes (4 KiB–1 MiB) × 21 iterations (+2 warm-up), within a machine (2 ranks)
# expect: #       size       count   type       time    algbw    busbw      model   resid
# expect: profile: gloo-small.json
simdist calibrate --nproc 2 --sizes 4KiB..1MiB:4 --ops all_reduce,broadcast -o gloo-small.json
