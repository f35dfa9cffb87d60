# expect: ✓ real torchrun matched the prediction for all 4 ranks
# expect: report: simdist-report.json
simdist explain --nnodes 2 --nproc 2 --master-addr 192.168.5.228 --master-port 29400 --real --local-nodes
