simdist plot tutorials/examples/profiles/gloo-2cpu.json -o calibration.svg
