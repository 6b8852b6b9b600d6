"""Semi-supervised by pretraining: classifier on 10 labels per class of digits.

From scratch (the baseline):
  jaxssl train configs/classifier_digits.py --workdir runs/classifier_digits_scratch

From a pretrained autoencoder (same model section), fine-tuned:
  jaxssl train configs/autoencoder_digits.py --workdir runs/autoencoder_digits
  jaxssl train configs/classifier_digits.py --workdir runs/classifier_digits_ae \
      --config.method.pretrained=runs/autoencoder_digits
Add --config.method.freeze_encoder=True to train only the linear head.
"""

from jaxssl.config_utils import load_sibling


def get_config():
    config = load_sibling(__file__, "autoencoder_digits")
    config.method = dict(name="classifier", pretrained="", freeze_encoder=False)
    config.input.labels_per_class = 10
    config.input.batch_size = 64
    config.optim.lr = 1e-3
    config.optim.weight_decay = 1e-4
    config.train.total_steps = 500
    config.train.ckpt_every = 250
    config.evals.every = 0
    return config
