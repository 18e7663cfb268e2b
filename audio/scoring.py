"""Scoring frame classifiers: frame accuracy, confusion, and phone error rate after decoding.

**Frame accuracy** at three levels: states (138, arg-max of the logits), phones (46: each phone's
three state posteriors summed, then the arg-max) and Lee & Hon's 39 phones (the posteriors of
the phones folded together summed: ix->ih, ax->ah, ao->aa, axr->er, el->l, en->n, zh->sh;
:data:`FOLD_39`). Lee & Hon's other foldings (closures, pau, epi, h#, q -> sil; ux, ax-h, em,
nx, eng, hv) already happen when a ``.phn`` is read into the 46 phones.

**Phone error rate** (PER), the figure speech papers report, scores phone *sequences*. Each
utterance's frames are decoded into a state sequence, either frame by frame (arg-max, as for
phone accuracy) or by Viterbi over the 138 states of a hybrid HMM (:func:`estimate_hmm`):
emission scores are scaled likelihoods, ``log p(s | x) - log p(s)`` (the network's posterior
divided by the state prior), transitions and initial probabilities are relative counts in the
training alignments. Both the decoded and the reference sequences (the frame labels) go through
:func:`phone_sequence`, exactly: state -> phone (46) -> Lee & Hon 39; merge runs of the same
phone into one; drop ``sil`` (so silences, pauses and closures never count, and ``a sil a``
scores as two ``a``). PER = sum over utterances of the Levenshtein distance (substitutions +
deletions + insertions) / sum of the reference lengths, a fraction (may exceed 1). Unlike
Kaldi's TIMIT recipe, ``sil`` is not scored as a phone.
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
from jaxcnn.audio import phones

#: Lee & Hon's merges that the 46-phone set undoes, applied for 39-phone scoring.
FOLD_39: dict[str, str] = {
    "ix": "ih", "ax": "ah", "ao": "aa", "axr": "er", "el": "l", "en": "n", "zh": "sh",
}  # fmt: skip
#: Lee & Hon's 39 phones (ours, less the 7 folded), in the 46-phone order.
PHONES_39: tuple[str, ...] = tuple(p for p in phones.PHONES if p not in FOLD_39)
#: int32 (46,): the 39-phone index of each of the 46 phones.
PHONE_TO_39: np.ndarray = np.array(
    [PHONES_39.index(FOLD_39.get(p, p)) for p in phones.PHONES], np.int32
)
SILENCE_39 = PHONES_39.index(phones.SILENCE)


def frame_scores(logits: np.ndarray, states: np.ndarray) -> dict:
    """State, phone and 39-phone frame accuracy, and phone confusion matrices.

    Args:
      logits: float ``(N, 138)``; states: int ``(N,)`` labels in ``[0, 138)``.

    Returns:
      {"state_accuracy", "phone_accuracy", "phone39_accuracy" (floats),
       "phone_confusion" int64 (46, 46) and "phone39_confusion" int64 (39, 39), [true, predicted]}.

    Raises:
      ValueError: ``logits`` not ``(N, 138)`` or labels out of range.
      TypeError: non-integer labels.
    """
    logits = np.asarray(logits, np.float64)
    states = np.asarray(states)
    if logits.shape != (states.shape[0], phones.NUM_STATES):
        raise ValueError(
            f"frame_scores: logits must have shape ({states.shape[0]}, 138), got {logits.shape}"
        )
    true_phone = phones.state_to_phone(states)
    per_phone = phone_posteriors(logits)
    pred_phone = per_phone.argmax(axis=1)
    per_39 = np.zeros((len(states), len(PHONES_39)))
    np.add.at(per_39.T, PHONE_TO_39, per_phone.T)  # sum the folded phones' posteriors
    true_39, pred_39 = PHONE_TO_39[true_phone], per_39.argmax(axis=1)
    confusion = np.zeros((phones.NUM_PHONES, phones.NUM_PHONES), np.int64)
    np.add.at(confusion, (true_phone, pred_phone), 1)
    confusion_39 = np.zeros((len(PHONES_39), len(PHONES_39)), np.int64)
    np.add.at(confusion_39, (true_39, pred_39), 1)
    return {
        "state_accuracy": float((logits.argmax(axis=1) == states).mean()),
        "phone_accuracy": float((pred_phone == true_phone).mean()),
        "phone39_accuracy": float((pred_39 == true_39).mean()),
        "phone_confusion": confusion,
        "phone39_confusion": confusion_39,
    }


def phone_posteriors(logits: np.ndarray) -> np.ndarray:
    """``(N, 46)`` phone posteriors: softmax over the 138 states, each phone's 3 states summed."""
    logits = np.asarray(logits, np.float64)
    post = np.exp(logits - logits.max(axis=1, keepdims=True))
    post /= post.sum(axis=1, keepdims=True)
    return post.reshape(len(post), phones.NUM_PHONES, phones.STATES_PER_PHONE).sum(axis=2)


@dataclasses.dataclass(frozen=True)
class StateHMM:
    """A hybrid HMM over the 138 states, from training alignments (natural logs).

    Attributes:
      log_prior: ``(S,)`` state frequencies (divide posteriors by them: scaled likelihoods).
      log_trans: ``(S, S)`` ``[from, to]`` transition probabilities (rows sum to 1).
      log_init: ``(S,)`` first-frame probabilities.
    """

    log_prior: np.ndarray
    log_trans: np.ndarray
    log_init: np.ndarray


def estimate_hmm(
    labels: np.ndarray,
    utterance: np.ndarray,
    *,
    num_states: int = phones.NUM_STATES,
    smoothing: float = 0.1,
) -> StateHMM:
    """Count priors, transitions and initial states in training frame labels.

    Consecutive examples of the same utterance are consecutive frames (as in
    :class:`audio.windows.FrameBank`: only frames before the first or after the last segment are
    unlabelled). Every count gets ``smoothing`` added, so no transition is impossible.

    Args:
      labels: int ``(N,)`` state labels in ``[0, num_states)``.
      utterance: int ``(N,)`` utterance ids, frames of an utterance contiguous and in order.
      num_states: S.
      smoothing: pseudo-count added to every prior, transition and initial count (> 0).

    Returns:
      A :class:`StateHMM` of float64 arrays.

    Raises:
      ValueError: shapes that differ, empty input, labels out of range, smoothing <= 0.
    """
    labels, utterance = np.asarray(labels), np.asarray(utterance)
    if labels.ndim != 1 or labels.shape != utterance.shape or labels.size == 0:
        raise ValueError(
            f"estimate_hmm: labels and utterance must be equal non-empty (N,) arrays, got "
            f"{labels.shape} and {utterance.shape}"
        )
    phones.check_labels(labels, num_states, "estimate_hmm", "labels")
    if not smoothing > 0:
        raise ValueError(f"estimate_hmm: smoothing must be > 0, got {smoothing!r}")
    same = utterance[1:] == utterance[:-1]
    trans = np.full((num_states, num_states), smoothing)
    np.add.at(trans, (labels[:-1][same], labels[1:][same]), 1.0)
    starts = labels[np.concatenate([[True], ~same])]
    init = np.bincount(starts, minlength=num_states) + smoothing
    prior = np.bincount(labels, minlength=num_states) + smoothing
    return StateHMM(
        log_prior=np.log(prior / prior.sum()),
        log_trans=np.log(trans / trans.sum(axis=1, keepdims=True)),
        log_init=np.log(init / init.sum()),
    )


def viterbi(scores: np.ndarray, log_trans: np.ndarray, log_init: np.ndarray) -> np.ndarray:
    """The most likely state path of one utterance (on the JAX device, ``lax.scan``).

    Args:
      scores: float ``(T, S)`` log emission scores (e.g. scaled log-likelihoods).
      log_trans: float ``(S, S)`` ``[from, to]``; log_init: float ``(S,)``.

    Returns:
      int32 ``(T,)`` the arg-max over paths of ``log_init[s0] + scores[0, s0] +
      sum_t (log_trans[s_{t-1}, s_t] + scores[t, s_t])``.

    Raises:
      ValueError: shapes that do not agree, or T == 0.
    """
    scores = np.asarray(scores, np.float32)
    if scores.ndim != 2 or scores.shape[0] == 0:
        raise ValueError(f"viterbi: scores must have shape (T>0, S), got {scores.shape}")
    return viterbi_batch(scores[None], np.array([len(scores)]), log_trans, log_init)[0]


def viterbi_batch(
    scores: np.ndarray, lengths: np.ndarray, log_trans: np.ndarray, log_init: np.ndarray
) -> np.ndarray:
    """:func:`viterbi` for a batch of padded utterances, one jitted ``vmap`` of ``lax.scan``.

    Args:
      scores: float ``(U, T, S)``, utterance ``u`` valid for ``t < lengths[u]``.
      lengths: int ``(U,)`` in ``[1, T]``.
      log_trans: float ``(S, S)``; log_init: float ``(S,)``.

    Returns:
      int32 ``(U, T)``; entries at ``t >= lengths[u]`` repeat the last valid state.

    Raises:
      ValueError: shapes that do not agree or lengths out of range.
    """
    scores = np.asarray(scores, np.float32)
    lengths = np.asarray(lengths)
    if scores.ndim != 3:
        raise ValueError(f"viterbi_batch: scores must have shape (U, T, S), got {scores.shape}")
    u, t, s = scores.shape
    if np.shape(log_trans) != (s, s) or np.shape(log_init) != (s,):
        raise ValueError(
            f"viterbi: log_trans must be ({s}, {s}) and log_init ({s},), got "
            f"{np.shape(log_trans)} and {np.shape(log_init)}"
        )
    if lengths.shape != (u,) or lengths.min() < 1 or lengths.max() > t:
        raise ValueError(f"viterbi_batch: lengths must be (U,) in [1, {t}], got {lengths}")
    paths = _viterbi_jit(
        jnp.asarray(scores), jnp.asarray(lengths, jnp.int32),
        jnp.asarray(log_trans, jnp.float32), jnp.asarray(log_init, jnp.float32),
    )  # fmt: skip
    return np.asarray(paths)


@jax.jit
def _viterbi_jit(scores, lengths, log_trans, log_init):
    return jax.vmap(_viterbi_one, in_axes=(0, 0, None, None))(scores, lengths, log_trans, log_init)


def _viterbi_one(scores, length, log_trans, log_init):
    num_states = scores.shape[1]
    keep = jnp.arange(num_states)

    def forward(delta, step):
        t, emission = step
        candidates = delta[:, None] + log_trans  # (from, to)
        best = jnp.argmax(candidates, axis=0)
        new = jnp.max(candidates, axis=0) + emission
        active = t < length  # past the end: carry the scores, back-pointers to self
        return jnp.where(active, new, delta), jnp.where(active, best, keep)

    steps = (jnp.arange(1, scores.shape[0]), scores[1:])
    last, pointers = jax.lax.scan(forward, log_init + scores[0], steps)  # (T-1, S)

    def backward(state, pointer):  # pointer: state at t+1 -> best state at t
        return pointer[state], state

    first, rest = jax.lax.scan(backward, jnp.argmax(last), pointers, reverse=True)
    return jnp.concatenate([first[None], rest]).astype(jnp.int32)


def phone_sequence(phone_frames: np.ndarray) -> np.ndarray:
    """The scored sequence of 46-phone frame labels: fold to 39, merge runs, drop ``sil``.

    Args:
      phone_frames: int ``(T,)`` phones in ``[0, 46)``, one per frame.

    Returns:
      int32 ``(L,)`` 39-phone indices (:data:`PHONES_39`), no two neighbours equal before the
      silences are dropped.
    """
    folded = PHONE_TO_39[np.asarray(phone_frames, np.int64)]
    if folded.size == 0:
        return folded
    runs = folded[np.concatenate([[True], folded[1:] != folded[:-1]])]
    return runs[runs != SILENCE_39].astype(np.int32)


def edit_distance(reference: np.ndarray, hypothesis: np.ndarray) -> int:
    """Levenshtein distance (unit-cost substitutions, deletions, insertions) of two sequences."""
    ref, hyp = list(np.asarray(reference)), list(np.asarray(hypothesis))
    row = np.arange(len(hyp) + 1)
    for i, r in enumerate(ref, 1):
        prev, row = row, np.empty_like(row)
        row[0] = i
        for j, h in enumerate(hyp, 1):
            row[j] = min(prev[j] + 1, row[j - 1] + 1, prev[j - 1] + (r != h))
    return int(row[-1])


def phone_error_rate(references: list[np.ndarray], hypotheses: list[np.ndarray]) -> float:
    """Summed edit distances / summed reference lengths (a fraction).

    Raises:
      ValueError: different numbers of sequences, or no reference phone at all.
    """
    if len(references) != len(hypotheses):
        raise ValueError(
            f"phone_error_rate: references and hypotheses must pair up, got {len(references)} "
            f"and {len(hypotheses)}"
        )
    total = sum(len(r) for r in references)
    if total == 0:
        raise ValueError("phone_error_rate: references must hold at least one phone, got none")
    return sum(map(edit_distance, references, hypotheses)) / total


def per_scores(
    logits: np.ndarray, labels: np.ndarray, utterance: np.ndarray, hmm: StateHMM
) -> dict:
    """PER (39 phones) of frame-wise arg-max and of Viterbi decoding, per utterance summed.

    Args:
      logits: float ``(N, 138)``; labels: int ``(N,)`` states; utterance: int ``(N,)`` ids, each
        utterance's frames contiguous and in time order (a FrameBank's order).
      hmm: from :func:`estimate_hmm` on the training split.

    Returns:
      {"per_39" (Viterbi), "per_39_argmax" (frame-wise), "reference_phones" (int)}.

    Raises:
      ValueError: shapes that do not agree.
    """
    logits = np.asarray(logits, np.float32)
    labels, utterance = np.asarray(labels), np.asarray(utterance)
    if logits.shape != (labels.shape[0], phones.NUM_STATES) or utterance.shape != labels.shape:
        raise ValueError(
            f"per_scores: logits must be (N, 138) with labels and utterance (N,), got "
            f"{logits.shape}, {labels.shape}, {utterance.shape}"
        )
    log_post = logits - jax.nn.logsumexp(logits, axis=1, keepdims=True)
    scaled = np.asarray(log_post - hmm.log_prior[None, :], np.float32)
    bounds = np.flatnonzero(np.concatenate([[True], utterance[1:] != utterance[:-1], [True]]))
    spans = list(zip(bounds[:-1], bounds[1:], strict=True))
    refs = [phone_sequence(labels[a:b] // phones.STATES_PER_PHONE) for a, b in spans]
    frame_phones = phone_posteriors(logits).argmax(axis=1)
    argmax_hyps = [phone_sequence(frame_phones[a:b]) for a, b in spans]
    paths = _decode_spans(scaled, spans, hmm)
    viterbi_hyps = [phone_sequence(p // phones.STATES_PER_PHONE) for p in paths]
    return {
        "per_39": phone_error_rate(refs, viterbi_hyps),
        "per_39_argmax": phone_error_rate(refs, argmax_hyps),
        "reference_phones": int(sum(len(r) for r in refs)),
    }


def _decode_spans(scaled, spans, hmm: StateHMM, group: int = 16, pad: int = 64):
    """Viterbi paths of each ``scaled[a:b]``: ``group`` utterances at a time, padded to ``pad``."""
    paths = []
    for g in range(0, len(spans), group):
        chunk = spans[g : g + group]
        longest = max(b - a for a, b in chunk)
        t = -(-longest // pad) * pad  # few distinct shapes: few compilations
        batch = np.zeros((group, t, scaled.shape[1]), np.float32)
        lengths = np.ones(group, np.int64)
        for i, (a, b) in enumerate(chunk):
            batch[i, : b - a] = scaled[a:b]
            lengths[i] = b - a
        out = viterbi_batch(batch, lengths, hmm.log_trans, hmm.log_init)
        paths += [out[i, : b - a] for i, (a, b) in enumerate(chunk)]
    return paths
