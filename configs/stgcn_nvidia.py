# TAO PoseClassificationNet NVIDIA 3dbp recipe (experiment_nvidia.yaml):
# nvidia layout / spatial strategy, 6 classes, batch 16, SGD 0.1 nesterov, MultiStep [10, 60] x0.1,
# 70 epochs, checkpoint and validation every 5 epochs, seed 1234.
# Data defaults to the embedded sample (python tools/make_sample_data.py); point it at your own files with
#   --cfg-options train_dataloader.dataset.data_path=... train_dataloader.dataset.label_path=...
_base_ = [
    '_base_/models/stgcn.py',
    '_base_/datasets/skeleton_npy.py',
    '_base_/schedules/sgd_multistep.py',
    '_base_/default_runtime.py',
]
