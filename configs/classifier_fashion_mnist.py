"""Semi-supervised by pretraining: classifier on 10 labels per class of Fashion-MNIST.

From scratch (the baseline), then from a pretrained autoencoder (same model):
  jaxssl train configs/classifier_fashion_mnist.py --workdir runs/clf_fmnist_scratch
  jaxssl train configs/classifier_fashion_mnist.py --workdir runs/clf_fmnist_ae \
      --config.method.pretrained=runs/autoencoder_fashion_mnist

Launch:
  jaxssl train configs/classifier_fashion_mnist.py --workdir runs/classifier_fashion_mnist
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
