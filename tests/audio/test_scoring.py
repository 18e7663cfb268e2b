import numpy as np
import pytest
from jaxcnn.audio import phones, scoring

P = phones.PHONE_INDEX


def numpy_viterbi(scores, log_trans, log_init):
    """The textbook recursion with Python loops (an independent reference)."""
    t_len, s_len = scores.shape
    delta = log_init + scores[0]
    back = np.zeros((t_len, s_len), int)
    for t in range(1, t_len):
        new = np.empty(s_len)
        for j in range(s_len):
            cand = [delta[i] + log_trans[i, j] for i in range(s_len)]
            back[t, j] = int(np.argmax(cand))
            new[j] = cand[back[t, j]] + scores[t, j]
        delta = new
    path = [int(np.argmax(delta))]
    for t in range(t_len - 1, 0, -1):
        path.append(back[t, path[-1]])
    return np.array(path[::-1]), float(delta.max())


def path_score(path, scores, log_trans, log_init):
    total = log_init[path[0]] + scores[0, path[0]]
    for t in range(1, len(path)):
        total += log_trans[path[t - 1], path[t]] + scores[t, path[t]]
    return total


def _log_softmax(x, axis):
    x = x - x.max(axis=axis, keepdims=True)
    return x - np.log(np.exp(x).sum(axis=axis, keepdims=True))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_viterbi_matches_a_numpy_reference_on_random_scores(seed):
    rng = np.random.default_rng(seed)
    t_len, s_len = 40, 9
    scores = rng.normal(size=(t_len, s_len)).astype(np.float32)
    log_trans = _log_softmax(rng.normal(size=(s_len, s_len)) * 2, axis=1).astype(np.float32)
    log_init = _log_softmax(rng.normal(size=s_len), axis=0).astype(np.float32)
    ours = scoring.viterbi(scores, log_trans, log_init)
    ref, best = numpy_viterbi(scores, log_trans, log_init)
    np.testing.assert_array_equal(ours, ref)
    assert path_score(ours, scores, log_trans, log_init) == pytest.approx(best, rel=1e-5)


def test_viterbi_batch_padding_gives_the_same_paths():
    rng = np.random.default_rng(3)
    s_len = 6
    log_trans = _log_softmax(rng.normal(size=(s_len, s_len)), axis=1)
    log_init = _log_softmax(rng.normal(size=s_len), axis=0)
    lengths = np.array([1, 7, 12])
    batch = rng.normal(size=(3, 12, s_len)).astype(np.float32)
    paths = scoring.viterbi_batch(batch, lengths, log_trans, log_init)
    for u, n in enumerate(lengths):
        ref, _ = numpy_viterbi(batch[u, :n], log_trans, log_init)
        np.testing.assert_array_equal(paths[u, :n], ref)
    with pytest.raises(ValueError, match=r"lengths must be \(U,\) in \[1, 12\]"):
        scoring.viterbi_batch(batch, np.array([0, 1, 2]), log_trans, log_init)
    with pytest.raises(ValueError, match="log_trans must be"):
        scoring.viterbi_batch(batch, lengths, log_trans[:2], log_init)


def test_estimate_hmm_hand_worked():
    hmm = scoring.estimate_hmm(
        np.array([0, 0, 1, 1, 2]), np.array([0, 0, 0, 1, 1]), num_states=3, smoothing=1.0
    )
    # transitions inside utterances: 0->0, 0->1 (utterance 0), 1->2 (utterance 1); +1 each cell
    np.testing.assert_allclose(
        np.exp(hmm.log_trans), [[2 / 5, 2 / 5, 1 / 5], [1 / 4, 1 / 4, 2 / 4], [1 / 3] * 3]
    )
    np.testing.assert_allclose(np.exp(hmm.log_init), [2 / 5, 2 / 5, 1 / 5])  # starts: 0 and 1
    np.testing.assert_allclose(np.exp(hmm.log_prior), [3 / 8, 3 / 8, 2 / 8])
    with pytest.raises(ValueError, match="smoothing must be > 0"):
        scoring.estimate_hmm(np.array([0]), np.array([0]), smoothing=0)


def test_phone_sequence_and_per_hand_worked():
    def frames(names):
        return np.array([P[n] for n in names])

    # Utterance 1. ref: sil iy iy ix sh sh sil sil iy t -> iy ih sh iy t (ix folds into ih)
    ref1 = frames("sil iy iy ix sh sh sil sil iy t".split())
    # hyp: iy iy ih ih s sil iy iy k k t -> iy ih s iy k t: 1 substitution (sh/s), 1 insertion (k)
    hyp1 = frames("iy iy ih ih s sil iy iy k k t".split())
    names = [scoring.PHONES_39[i] for i in scoring.phone_sequence(ref1)]
    assert names == ["iy", "ih", "sh", "iy", "t"]
    # Utterance 2. ref: ax ax ah -> ah (merged after folding); hyp: sil -> nothing: 1 deletion
    ref2, hyp2 = frames(["ax", "ax", "ah"]), frames(["sil"])
    refs = [scoring.phone_sequence(r) for r in (ref1, ref2)]
    hyps = [scoring.phone_sequence(h) for h in (hyp1, hyp2)]
    assert [scoring.edit_distance(r, h) for r, h in zip(refs, hyps, strict=True)] == [2, 1]
    assert scoring.phone_error_rate(refs, hyps) == pytest.approx(3 / 6)
    assert scoring.edit_distance(list("kitten"), list("sitting")) == 3
    assert len(scoring.PHONES_39) == 39 and scoring.PHONES_39[scoring.SILENCE_39] == "sil"
    with pytest.raises(ValueError, match="at least one phone"):
        scoring.phone_error_rate([np.array([], int)], [np.array([1])])


def test_frame_scores_against_a_loop():
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(50, 138))
    states = rng.integers(0, 138, size=50)
    states[:10] = logits[:10].argmax(axis=1)  # some right answers
    scores = scoring.frame_scores(logits, states)
    state_hits, phone_hits, hits_39 = 0, 0, 0
    confusion = np.zeros((46, 46), int)
    fold = {"ix": "ih", "ax": "ah", "ao": "aa", "axr": "er", "el": "l", "en": "n", "zh": "sh"}
    for row, s in zip(logits, states, strict=True):
        state_hits += int(np.argmax(row) == s)
        p = np.exp(row - row.max())
        phone = int(np.argmax([p[3 * k : 3 * k + 3].sum() for k in range(46)]))
        phone_hits += int(phone == s // 3)
        confusion[s // 3, phone] += 1
        groups = {}
        for k, name in enumerate(phones.PHONES):
            key = fold.get(name, name)
            groups[key] = groups.get(key, 0.0) + p[3 * k : 3 * k + 3].sum()
        truth = fold.get(phones.PHONES[s // 3], phones.PHONES[s // 3])
        hits_39 += int(max(groups, key=groups.get) == truth)
    assert scores["state_accuracy"] == pytest.approx(state_hits / 50)
    assert scores["phone_accuracy"] == pytest.approx(phone_hits / 50)
    assert scores["phone39_accuracy"] == pytest.approx(hits_39 / 50)
    np.testing.assert_array_equal(scores["phone_confusion"], confusion)
    assert scores["phone39_confusion"].sum() == 50
    with pytest.raises(ValueError, match=r"logits must have shape \(50, 138\)"):
        scoring.frame_scores(logits[:, :46], states)


def test_viterbi_removes_flicker_that_argmax_counts_as_insertions():
    rng = np.random.default_rng(0)
    # Training alignments: phones of 9 frames (3 per state), so the HMM learns to stay.
    seq = [P[n] for n in "sil s iy sh iy sil".split()]
    states = np.concatenate([np.repeat(3 * p + np.arange(3), 3) for p in seq])
    labels = np.tile(states, 4)
    utterance = np.repeat(np.arange(4), len(states))
    hmm = scoring.estimate_hmm(labels, utterance)
    # A network trained on these labels: noise among the states it has seen, the true state ahead
    # on most frames but not all (flicker), the unseen states far below.
    seen = np.unique(labels)
    logits = np.full((len(labels), 138), -20.0)
    logits[:, seen] = rng.normal(0, 1.0, size=(len(labels), len(seen)))
    logits[np.arange(len(labels)), labels] += 1.5
    out = scoring.per_scores(logits, labels, utterance, hmm)
    assert out["reference_phones"] == 4 * 4
    assert out["per_39"] < out["per_39_argmax"]
    perfect = np.where(np.arange(138)[None] == labels[:, None], 10.0, 0.0)
    assert scoring.per_scores(perfect, labels, utterance, hmm)["per_39"] == 0.0
