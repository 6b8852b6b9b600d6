"""Chen et al.'s "Baseline" (pretrain, freeze, new linear head per episode) on the Fashion-MNIST class split.

protonet_fashion_mnist's split, augmentation, model and test episodes (one
model, tested 5-way 1-shot and 5-shot): conv4 with transductive batch norm and
no last pool (576 features), the method section of finetune_digits.py, batches
of 128 base-class images, 2,000 steps, the best validation step kept.

Transductive: at test time an episode's support and query images are embedded
together, so the queries take part in the normalisation statistics, as in the
ProtoNet and MAML configs. The inductive variant (``--config.model.norm=none
--config.model.pool_last=True``, each image embedded on its own) loses to raw
pixels on this split.

Through the episodic runner (benchmarks/fewshot_configs_bench.py,
few_shot.jsonl; 5-way 1-shot / 5-shot, 600 test episodes): 0.633 +- 0.006 /
0.840 +- 0.004 (2-core CPU, 513 s); inductive 0.514 +- 0.006 / 0.715 +- 0.005
(H200). Raw pixels: 0.578 / 0.745.

Launch:
  jaxssl train configs/finetune_fashion_mnist.py --workdir runs/finetune_fashion
"""

from jaxssl.config_utils import load_sibling


def get_config():
    config = load_sibling(__file__, "protonet_fashion_mnist")
    config.method = load_sibling(__file__, "finetune_digits").method
    config.method.batch_size = 128
    config.model.norm = "transductive"
    config.model.pool_last = False
    config.model.conv_impl = "patches"  # faster gradients on XLA:CPU
    config.train.total_steps = 2000
    config.train.val_every = 250
    config.train.ckpt_every = 500
    return config
