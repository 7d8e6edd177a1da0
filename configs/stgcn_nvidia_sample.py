# Quick CPU run of the NVIDIA recipe on the embedded sample data (tools/make_sample_data.py: (N, 3, 100, 34, 1),
# six actions of 70-100 frames): a narrow ST-GCN (base_channels 16) for 30 epochs. Same layout, data format and I/O
# as stgcn_nvidia.py. About 1 min of training on an idle 2-core CPU (tools/run_sample_job.sh adds --auto-amp:
# bfloat16 where the CPU runs it natively), 93-97 % validation top-1.
_base_ = ['./stgcn_nvidia.py']
model = dict(backbone=dict(base_channels=16, dropout=0.1), cls_head=dict(in_channels=64))
train_dataloader = dict(batch_size=8, num_workers=0)
val_dataloader = dict(num_workers=0)
test_dataloader = dict(num_workers=0)
param_scheduler = [dict(type='MultiStepLR', by_epoch=True, milestones=[20], gamma=0.1)]
train_cfg = dict(max_epochs=30, val_interval=5)
default_hooks = dict(logger=dict(interval=5))
