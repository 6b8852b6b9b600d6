"""Meta-learning: MAML-family inner loops, a learned update rule, episodes,
few-shot evaluation."""

from jaxssl.meta.baselines import (
    baseline_accuracy,
    baseline_score_fn,
    cosine_logits,
    fit_head,
    head_logits,
    init_head,
)
from jaxssl.meta.episodes import (
    ClassSplit,
    EpisodeData,
    class_split_data,
    make_episode_data,
    rotate_classes,
    sample_episode,
    sample_episodes,
    sample_sinusoid_tasks,
    split_classes,
)
from jaxssl.meta.evaluate import (
    evaluate_episodes,
    mean_confidence_interval,
    nearest_centroid_accuracy,
)
from jaxssl.meta.learned_update import (
    meta_lstm_adapt,
    meta_lstm_init,
    meta_lstm_loss,
)
from jaxssl.meta.maml import (
    maml_adapt,
    maml_loss,
    meta_sgd_adapt,
    meta_sgd_init,
    meta_sgd_loss,
)

__all__ = [
    "baseline_accuracy",
    "baseline_score_fn",
    "cosine_logits",
    "fit_head",
    "head_logits",
    "init_head",
    "ClassSplit",
    "EpisodeData",
    "class_split_data",
    "evaluate_episodes",
    "make_episode_data",
    "maml_adapt",
    "maml_loss",
    "mean_confidence_interval",
    "meta_lstm_adapt",
    "meta_lstm_init",
    "meta_lstm_loss",
    "meta_sgd_adapt",
    "meta_sgd_init",
    "meta_sgd_loss",
    "nearest_centroid_accuracy",
    "rotate_classes",
    "sample_episode",
    "sample_episodes",
    "sample_sinusoid_tasks",
    "split_classes",
]
