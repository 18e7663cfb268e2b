"""WordNet glosses and label<TAB>text files: real lines, deterministic splits, bad input."""

import numpy as np
import pytest
from jaxcnn.text.datasets import (
    LEXNAMES,
    Example,
    bucket_datasets,
    encode_examples,
    read_labelled,
    read_synonyms,
    read_wordnet,
    split_examples,
    token_dataset,
)
from jaxcnn.text.vocab import build_vocabulary

WORDNET = "/usr/share/wordnet"


def _slice(src_dir, dst, pos, n):
    """The licence header and the first ``n`` synset lines of a real WordNet data file."""
    lines, kept = [], 0
    with open(f"{src_dir}/data.{pos}", encoding="utf-8") as f:
        for line in f:
            if not line.startswith("  "):
                if kept == n:
                    break
                kept += 1
            lines.append(line)
    dst.mkdir(parents=True, exist_ok=True)
    (dst / f"data.{pos}").write_text("".join(lines), encoding="utf-8")
    return [line for line in lines if not line.startswith("  ")]


def test_reads_real_lines_in_debian_and_tarball_layouts(tmp_path):
    raw = _slice(WORDNET, tmp_path / "dict", "verb", 50)
    raw_adj = _slice(WORDNET, tmp_path / "dict", "adj", 30)
    for directory in (tmp_path, tmp_path / "dict"):  # a dict/ sub-folder or the folder itself
        got = read_wordnet(directory)
        assert len(got) == 80
        assert [e.key for e in got[:50]] == [f"v:{ln.split()[0]}" for ln in raw]
        # label = field 1 of the line; WordNet's verb files are 29..43, adjectives 0, 1, 44
        assert [e.label for e in got[:50]] == [int(ln.split()[1]) for ln in raw]
        assert {LEXNAMES[e.label].split(".")[0] for e in got[50:]} == {"adj"}
        assert got[0].text == raw[0].split("|", 1)[1].strip()
    assert len(raw_adj) == 30
    first = read_wordnet(tmp_path, examples=False)[0].text
    assert '"' not in first and first == raw[0].split("|", 1)[1].split('; "')[0].strip()


def test_lexnames_are_wordnets_45_files():
    assert len(LEXNAMES) == 45 and LEXNAMES[5] == "noun.animal" and LEXNAMES[38] == "verb.motion"
    assert LEXNAMES[44] == "adj.ppl" and LEXNAMES[3] == "noun.Tops"


def test_split_is_deterministic_disjoint_and_order_free():
    items = [Example(f"t{i}", 0, f"n:{i:08d}") for i in range(3000)]
    train, dev, test = split_examples(items)
    assert len(train) + len(dev) + len(test) == 3000
    assert 0.07 < len(dev) / 3000 < 0.13 and 0.07 < len(test) / 3000 < 0.13
    assert {e.key for e in test} == {e.key for e in split_examples(items[::-1])[2]}
    assert not {e.key for e in test} & {e.key for e in train}
    with pytest.raises(ValueError, match="split_examples: dev and test must be fractions"):
        split_examples(items, dev=0.6, test=0.5)


def test_missing_or_broken_wordnet(tmp_path):
    with pytest.raises(ValueError, match="find_wordnet: directory must hold WordNet data"):
        read_wordnet(tmp_path)
    (tmp_path / "data.noun").write_text("  1 licence\n00001740 03 n 01 entity 0 000\n")
    with pytest.raises(ValueError, match="read_wordnet: line 2 of .* must be 'offset lex_filenum"):
        read_wordnet(tmp_path)
    with pytest.raises(ValueError, match="read_wordnet: pos must be one of"):
        read_wordnet(tmp_path, pos=("nouns",))


def test_labelled_file_and_unseen_labels(tmp_path):
    train = tmp_path / "train.tsv"
    train.write_text("pos\tgood film\nneg\tbad film\n\npos\tgreat\n")
    items, names, stats = read_labelled(train)
    assert names == ("neg", "pos") and [e.label for e in items] == [1, 0, 1]
    assert items[2] == Example("great", 1, "train.tsv:4") and stats.read == 3
    test = tmp_path / "test.tsv"
    test.write_text("pos\tfine\nneutral\tmeh\nno tab here\n\t\tempty label\npos\t  \n")
    with pytest.raises(ValueError, match="read_labelled: line 3 of .* must have a label, a tab"):
        read_labelled(test, names)
    items, _, stats = read_labelled(test, names, errors="skip")
    assert [e.text for e in items] == ["fine"]
    assert (stats.read, stats.no_label, stats.unseen_label, stats.empty_text) == (1, 2, 1, 1)
    test.write_text("pos\tfine\nneutral\tmeh\n")
    with pytest.raises(
        ValueError,
        match="read_labelled: labels must be among the 2 known labels, got 'neutral' at test.tsv:2",
    ):
        read_labelled(test, names)
    test.write_text("no tab\n")
    with pytest.raises(ValueError, match="read_labelled: .* must hold at least one usable"):
        read_labelled(test, names, errors="skip")


def test_encode_drops_and_counts_empty_and_all_unknown():
    vocab = build_vocabulary(["the dog"])
    items = [
        Example("the dog", 3, "a"),
        Example("", 1, "b"),
        Example("zebra quagga", 2, "c"),
        Example("!!", 0, "d"),
        Example("the zebra", 4, "e"),
    ]
    seqs, labels, stats = encode_examples(items, vocab)
    assert (stats.kept, stats.empty, stats.all_unknown) == (2, 1, 2)
    np.testing.assert_array_equal(labels, [3, 4])
    the, dog = vocab.id("the"), vocab.id("dog")
    assert [s.tolist() for s in seqs] == [[the, dog], [the, 1]]
    _, _, kept_all = encode_examples(items, vocab, drop_all_unknown=False)
    assert (kept_all.kept, kept_all.all_unknown) == (4, 0)


def test_token_dataset_rejects_arrays_that_do_not_line_up():
    ids, mask = np.ones((4, 3), np.int32), np.ones((4, 3), bool)
    y = np.arange(4, dtype=np.int32)
    assert token_dataset(ids, mask, y).size == 4
    assert token_dataset(ids, mask, ids, np.ones((4, 3), np.float32)).size == 4
    # a short y would be gathered with clamped indices: silently wrong labels
    with pytest.raises(
        ValueError, match=r"token_dataset: y must have shape \(4,\) or \(4, 3\), got \(3,\)"
    ):
        token_dataset(ids, mask, y[:3])
    with pytest.raises(
        ValueError, match=r"token_dataset: mask must have the shape of ids \(4, 3\), got \(4, 2\)"
    ):
        token_dataset(ids, mask[:, :2], y)
    with pytest.raises(ValueError, match=r"token_dataset: ids must have shape \(N, L\)"):
        token_dataset(ids[0], mask[0], y)
    with pytest.raises(ValueError, match=r"token_dataset: weight must have the shape of y \(4,\)"):
        token_dataset(ids, mask, y, np.ones(3, np.float32))
    with pytest.raises(TypeError, match="token_dataset: y must have an integer dtype, got float64"):
        token_dataset(ids, mask, y + 0.7)
    with pytest.raises(TypeError, match="token_dataset: ids must have an integer dtype"):
        token_dataset(ids.astype(np.float32), mask, y)


def test_bucket_datasets_rejects_float_labels():
    seqs = [np.array([2, 3], np.int32), np.array([4], np.int32)]
    (ds,), _ = bucket_datasets(seqs, np.array([1, 0]), (4,))
    np.testing.assert_array_equal(ds.arrays["y"], [1, 0])
    with pytest.raises(TypeError, match="bucket_datasets: labels must have an integer dtype"):
        bucket_datasets(seqs, np.array([1.7, 0.0]), (4,))  # was truncated to [1, 0]


def test_read_synonyms_blank_lines_pos_and_broken_lines(tmp_path):
    (tmp_path / "data.adj").write_text(
        "  1 licence\n"
        "00001740 00 a 03 able 0 capable(a) 0 able 0 000 | having the means\n"
        "\n"  # a blank line: was an IndexError
        "00002000 00 a 0b big 0 large 0 great_big 0 tall 0 huge 0 giant 0 vast 0 broad 0"
        " wide 0 grand 0 major 0 000 | above average in size\n"
    )
    pairs = read_synonyms(tmp_path, pos=("ADJ",))  # upper case, as read_wordnet accepts
    assert pairs[0] == ("able", "capable") and len(pairs) == 1 + 10 * 9 // 2
    with pytest.raises(ValueError, match="read_synonyms: pos must be one of"):
        read_synonyms(tmp_path, pos=("adjective",))  # was silently no pairs
    (tmp_path / "data.adj").write_text("00001740 00 a\n")
    with pytest.raises(ValueError, match="read_synonyms: line 1 of .* must be 'offset lex_filenum"):
        read_synonyms(tmp_path, pos=("adj",))
