"""``posecls inference``: one predicted class name per input sequence, in input order (TAO's output).

With ``inference.output_scores=true`` it also writes TAO-Triton's ranked lines
``idx, s0(i0)=label0, ...`` (logits, descending, all classes). No label file is needed.
"""
import os.path as osp
from typing import Any, Dict

from posecls.tao.spec import task_results_dir
from posecls.tao.tasks.common import batch_size, class_names, load_model_or_backend, open_dataset, single_device


def run(spec: Dict[str, Any], argv=None) -> Dict[str, Any]:
    """Classify ``inference.test_dataset.data_path``; returns ``dict(predictions, output_file, scores_file)``."""
    from posecls.apis import class_names_of, inference_recognizer, write_lines, write_ranked_scores

    inf = spec['inference']
    out_dir = task_results_dir(spec, 'inference')
    output_file = inf['output_file'] or osp.join(out_dir, 'inference.txt')
    scores_file = (inf['scores_file'] or osp.join(out_dir, 'results.txt')) if inf['output_scores'] else None
    plan = single_device(spec, 'inference')
    classes = class_names(spec)
    dataset = open_dataset(spec, inf['test_dataset'], with_labels=inf['test_dataset']['label_path'] is not None)
    model = load_model_or_backend(spec, 'inference', plan.device)
    logits = inference_recognizer(model, dataset.data, batch_size=batch_size(spec, 'inference'))
    names = class_names_of(logits, classes)
    write_lines(output_file, names)
    if scores_file:
        write_ranked_scores(scores_file, logits, classes)
    print(f'{len(names)} predictions written to {output_file}' + (f'; ranked scores to {scores_file}'
                                                                  if scores_file else ''), flush=True)
    return dict(predictions=names, output_file=output_file, scores_file=scores_file, logits=logits)
