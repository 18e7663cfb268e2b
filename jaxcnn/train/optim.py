"""optax optimisers and schedules from a `TrainConfig`."""

from __future__ import annotations

import jax
import optax

from jaxcnn.train.transfer import trainable_labels


def learning_rate_schedule(config, total_steps: int):
    """The learning rate as a function of the step (an optax schedule)."""
    lr = config.learning_rate
    if callable(lr):  # the caller's optax schedule
        return lr
    if config.schedule == "constant":
        return optax.constant_schedule(lr)
    if config.schedule == "cosine":
        return optax.cosine_decay_schedule(lr, max(total_steps, 1))
    return optax.warmup_cosine_decay_schedule(
        0.0, lr, config.warmup_steps, max(total_steps, config.warmup_steps + 1)
    )


def decay_mask(params):
    """True for leaves that get weight decay: kernels (ndim > 1), not biases or norm scales."""
    return jax.tree.map(lambda p: p.ndim > 1, params)


def make_optimizer(
    config, total_steps: int, params, tx: optax.GradientTransformation | None = None
) -> optax.GradientTransformation:
    """Build the optimiser: optional clipping, then sgd/adam/adamw, frozen paths zeroed.

    Args:
      config: a `TrainConfig`.
      total_steps: the run's number of steps (for the decaying schedules).
      params: the parameter pytree (for the decay mask and the frozen labels).
      tx: the caller's optax transform; it replaces everything the config's optimizer,
        learning_rate, momentum, weight_decay, schedule, warmup_steps and grad_clip would
        build (``frozen`` still applies).

    Returns:
      an ``optax.GradientTransformation``.

    Raises:
      ValueError: a ``config.frozen`` pattern matches no parameter.
    """
    if tx is None:
        tx = _from_config(config, total_steps, params)
    if config.frozen:
        labels = trainable_labels(params, config.frozen, fn="fit")
        tx = optax.multi_transform({"trainable": tx, "frozen": optax.set_to_zero()}, labels)
    return tx


def _from_config(config, total_steps: int, params) -> optax.GradientTransformation:
    lr = learning_rate_schedule(config, total_steps)
    mask = decay_mask(params)
    if config.optimizer == "sgd":
        core = optax.sgd(lr, momentum=config.momentum or None)
    elif config.optimizer == "adam":
        core = optax.adam(lr)
    else:
        core = optax.adamw(lr, weight_decay=config.weight_decay, mask=mask)
    parts = []
    if config.grad_clip is not None:
        parts.append(optax.clip_by_global_norm(config.grad_clip))
    if config.weight_decay and config.optimizer != "adamw":
        # L2 added to the gradient (coupled decay) for sgd/adam; adamw decouples it.
        parts.append(optax.add_decayed_weights(config.weight_decay, mask))
    return optax.chain(*parts, core) if parts else core
