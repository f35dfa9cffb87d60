simdist explain --from kubeflow -- --name bert --master-replicas 1 --worker-replicas 1 --nproc-per-node 4 python train.py
