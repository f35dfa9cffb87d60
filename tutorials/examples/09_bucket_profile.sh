simdist simulate --nproc 2 --scenario tutorials/examples/scenarios/bucket.py:bucket --no-steps --profile tutorials/examples/profiles/gloo-2cpu.json
