simdist explain --from kubeflow -- --name bert --master-replicas 1 --worker-replicas 1 --gpus-per-node 4 torchrun train.py
