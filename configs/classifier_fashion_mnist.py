"""Semi-supervised by pretraining: classifier on 10 labels per class of Fashion-MNIST.

From scratch (the baseline), then from a pretrained denoising autoencoder
(same model section), with the encoder frozen or fine-tuned:
  jaxssl train configs/classifier_fashion_mnist.py --workdir runs/clf_fmnist_scratch
  jaxssl train configs/denoising_ae_fashion_mnist.py --workdir runs/denoising_ae_fashion_mnist
  jaxssl train configs/classifier_fashion_mnist.py --workdir runs/clf_fmnist_dae \
      --config.method.pretrained=runs/denoising_ae_fashion_mnist \
      --config.method.freeze_encoder=True

Measured (benchmarks/results/semi_supervised.jsonl, 5 seeds, each its own
labeled subset): scratch 0.696 +- 0.010, frozen denoising-AE encoder
0.727 +- 0.010 (better on every seed), fine-tuned 0.702 +- 0.006.
All three: python -m benchmarks.semi_supervised_bench --dataset fashion_mnist \
      --pretrain-config denoising_ae_fashion_mnist --seeds 0,1,2,3,4
"""

from jaxssl.config_utils import load_sibling


def get_config():
    config = load_sibling(__file__, "autoencoder_fashion_mnist")
    config.method = dict(name="classifier", pretrained="", freeze_encoder=False)
    config.input.labels_per_class = 10
    config.input.batch_size = 100
    config.optim.weight_decay = 1e-4
    config.train.total_steps = 1000
    config.train.ckpt_every = 500
    config.evals.every = 0
    return config
