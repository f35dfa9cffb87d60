simdist simulate --nproc 2 --scenario tutorials/examples/scenarios/bucket.py:bucket --no-steps
