"""``posecls inference``: one predicted class name per input sequence, in input order (TAO's output).

With ``inference.output_scores=true`` it also writes TAO-Triton's ranked lines
``idx, s0(i0)=label0, ...`` (logits, descending, all classes). No label file is needed.
The spec becomes a config and the sequences go through the one inference loop
(:func:`posecls.apis.inference_recognizer`), as in ``tools/inference.py``.
"""
import os.path as osp
from typing import Any, Dict

from posecls.tao.spec import task_results_dir
from posecls.tao.tasks import common
from posecls.tao.tasks.common import batch_size, class_names, single_device, task_checkpoint, task_config


def run(spec: Dict[str, Any], argv=None) -> Dict[str, Any]:
    """Classify ``inference.test_dataset.data_path``; returns ``dict(predictions, output_file, scores_file)``."""
    from posecls.apis.inference import inference_recognizer, init_model
    from posecls.apis.outputs import top1_labels, write_lines, write_ranked_scores

    inf = spec['inference']
    out_dir = task_results_dir(spec, 'inference')
    output_file = inf['output_file'] or osp.join(out_dir, 'inference.txt')
    scores_file = (inf['scores_file'] or osp.join(out_dir, 'results.txt')) if inf['output_scores'] else None
    plan = single_device(spec, 'inference')
    classes = class_names(spec)
    cfg = task_config(spec, 'inference', inf['test_dataset'])
    model = init_model(cfg, task_checkpoint(spec, 'inference'), device=plan.device,
                       **common.runtime_options(spec, 'inference'))
    logits = inference_recognizer(model, inf['test_dataset']['data_path'], batch_size=batch_size(spec, 'inference'))
    names = top1_labels(logits, classes)
    write_lines(output_file, names)
    if scores_file:
        write_ranked_scores(scores_file, logits, classes)
    print(f'{len(names)} predictions written to {output_file}' + (f'; ranked scores to {scores_file}'
                                                                  if scores_file else ''), flush=True)
    return dict(predictions=names, output_file=output_file, scores_file=scores_file, logits=logits)
