"""Meta-learning: MAML-family inner loops, a learned update rule, episodes.

Few-shot evaluation lives in :mod:`jaxssl.evaluation.fewshot` (DESIGN.md's
``evaluation/``); ``evaluate_episodes``, ``mean_confidence_interval`` and
``nearest_centroid_accuracy`` are still importable from here.
"""

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


_EVALUATION = (
    "evaluate_episodes",
    "mean_confidence_interval",
    "nearest_centroid_accuracy",
)


def __getattr__(name: str):
    # Lazy: jaxssl.evaluation.fewshot imports jaxssl.meta.episodes, so an
    # eager import here would be circular.
    if name in _EVALUATION:
        from jaxssl.evaluation import fewshot

        return getattr(fewshot, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_EVALUATION])
