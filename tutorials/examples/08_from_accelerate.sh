simdist explain --from accelerate -- accelerate launch --num_processes 10 --num_machines 3 --machine_rank 0 --main_process_ip 192.168.5.228 train.py
