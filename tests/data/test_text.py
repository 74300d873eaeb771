"""The text pipeline: tokenizer, Vocab, encode / decode, padding, batches with masks, pairs."""

import json
import random
import unicodedata

import numpy as np
import pytest

from pyfastdl.data import text
from pyfastdl.data.text import (
    CLS_INDEX,
    PAD_INDEX,
    SEP_INDEX,
    SPECIALS,
    UNK_INDEX,
    Vocab,
    pad_batch,
    pad_to,
    tokenize,
)


# ----------------------------------------------------------------------------- tokenizer
@pytest.mark.parametrize(
    "source, tokens",
    [
        ("Hello, World!", ["hello", ",", "world", "!"]),
        ("It wasn't GOOD...", ["it", "wasn't", "good", ".", ".", "."]),
        ("  spaced\tout\nlines  ", ["spaced", "out", "lines"]),
        ("(a)-b_c", ["(", "a", ")", "-", "b", "_", "c"]),
        ("3.5 stars, 10/10", ["3", ".", "5", "stars", ",", "10", "/", "10"]),
        ("'quoted' rock'n'roll o'", ["'", "quoted", "'", "rock'n'roll", "o", "'"]),
        ("", []),
        ("   ", []),
        ("?!", ["?", "!"]),
    ],
)
def test_tokenize_words(source, tokens):
    assert tokenize(source) == tokens


def test_tokenize_unicode():
    # accents composed or not, curly apostrophes, other scripts, combining marks, case folding
    assert tokenize("Café CAFE\u0301 naïve") == ["café", "café", "naïve"]
    assert tokenize("Don\u2019t STRASSE Straße") == ["don't", "strasse", "straße"]
    assert tokenize("ΚΑΛΗΜΈΡΑ κόσμε!") == ["καλημέρα", "κόσμε", "!"]
    assert tokenize("हिन्दी अच्छी है।") == ["हिन्दी", "अच्छी", "है", "।"]
    assert tokenize("日本語 テスト") == ["日本語", "テスト"]
    assert tokenize("emoji 🙂 ok") == ["emoji", "🙂", "ok"]
    assert tokenize("\u00a0nbsp\u2003space ") == ["nbsp", "space"]
    assert all(unicodedata.is_normalized("NFC", t) for t in tokenize("e\u0301te\u0301"))


def test_tokenize_ascii_fast_path_matches_general_path():
    r = random.Random(0)
    alphabet = "ab Z9'_.,!-\t\n"
    for _ in range(300):
        s = "".join(r.choice(alphabet) for _ in range(r.randint(0, 20)))
        assert text._ASCII_TOKEN.findall(s) == text._unicode_words(s), repr(s)


def test_tokenize_case_and_char_level():
    assert tokenize("Good FILM", lower=False) == ["Good", "FILM"]
    assert tokenize("Hi,  Yo!", level="char") == ["h", "i", ",", " ", "y", "o", "!"]
    assert tokenize(" \n ", level="char") == []
    assert tokenize("Ab", level="char", lower=False) == ["A", "b"]


def test_tokenize_errors():
    with pytest.raises(TypeError, match=r"^\[tokenize\] text must be a str, got bytes"):
        tokenize(b"abc")
    with pytest.raises(TypeError, match=r"^\[tokenize\] text must be a str, got NoneType"):
        tokenize(None)
    with pytest.raises(
        ValueError, match=r"^\[tokenize\] level must be 'word' or 'char', got 'bpe'"
    ):
        tokenize("a", level="bpe")


# ----------------------------------------------------------------------------- Vocab
CORPUS = ["The film was good.", "The film was not good!", "Not bad, the film."]


def test_vocab_specials_and_order():
    assert SPECIALS == ("[PAD]", "[UNK]", "[CLS]", "[SEP]")
    assert (PAD_INDEX, UNK_INDEX, CLS_INDEX, SEP_INDEX) == (0, 1, 2, 3)
    v = Vocab.build(CORPUS)
    # counts: the 3, film 3, . 2, good 2, not 2, was 2, ! 1, , 1, bad 1
    assert v.itos == SPECIALS + ("film", "the", ".", "good", "not", "was", "!", ",", "bad")
    assert [v.stoi[t] for t in v.itos] == list(range(len(v)))
    assert (v.pad_index, v.unk_index, v.cls_index, v.sep_index) == (0, 1, 2, 3)
    assert len(v) == 13 and list(v) == list(v.itos)
    # the same corpus in another order gives the same vocabulary
    assert Vocab.build(CORPUS[::-1]) == v


def test_vocab_min_freq_and_max_size():
    v = Vocab.build(CORPUS, min_freq=2)
    assert v.itos[4:] == ("film", "the", ".", "good", "not", "was")
    assert Vocab.build(CORPUS, max_size=3).itos[4:] == ("film", "the", ".")
    assert len(Vocab.build(CORPUS, max_size=1000)) == 13
    assert Vocab.build(CORPUS, min_freq=3, max_size=1).itos == SPECIALS + ("film",)
    assert Vocab.build([]).itos == SPECIALS and Vocab.build(CORPUS, min_freq=4).itos == SPECIALS


def test_vocab_token_lists_and_specials_in_corpus():
    v = Vocab.build([["b", "[CLS]", "a"], ["a", "[PAD]"], ("B",)])
    assert v.itos[4:] == ("a", "B", "b")  # specials not counted; token lists not lowercased
    # in text, brackets are punctuation: a literal "[CLS]" is three ordinary tokens
    assert Vocab.build(["[CLS] x"]).itos[4:] == ("[", "]", "cls", "x")


def test_vocab_lookups_and_unknowns():
    v = Vocab(["good", "bad"])
    assert v["good"] == 4 and v["great"] == UNK_INDEX and v["[SEP]"] == SEP_INDEX
    assert "bad" in v and "great" not in v and "[PAD]" in v and 4 not in v
    assert v.lookup_indices(["bad", "meh", "good"]) == [5, 1, 4]
    assert v.lookup_tokens([0, 5, np.int64(4)]) == ["[PAD]", "bad", "good"]
    assert v.lookup_tokens(np.array([3, 2])) == ["[SEP]", "[CLS]"]
    assert v.lookup_tokens([]) == []
    with pytest.raises(IndexError, match=r"^\[Vocab\] index 6 is out of range for 6 tokens"):
        v.lookup_tokens([1, 6])
    with pytest.raises(IndexError, match=r"^\[Vocab\] index -1 is out of range"):
        v.decode([-1])
    with pytest.raises(TypeError, match=r"^\[Vocab\] lookup_indices takes a list of tokens"):
        v.lookup_indices("good")
    with pytest.raises(TypeError, match=r"^\[Vocab\] token ids must be a 1-d sequence of ints"):
        v.lookup_tokens([1.5])
    # read-only views
    with pytest.raises(TypeError):
        v.stoi["x"] = 9
    assert isinstance(v.itos, tuple)


def test_vocab_state_round_trip():
    v = Vocab.build(CORPUS, min_freq=2, level="word", lower=False)
    state = json.loads(json.dumps(v.state_dict()))
    w = Vocab.from_state_dict(state)
    assert w == v and w.itos == v.itos and w.lower is False and w.level == "word"
    assert w.encode("The film") == v.encode("The film")
    c = Vocab.build(["abc"], level="char")
    assert Vocab.from_state_dict(json.loads(json.dumps(c.state_dict()))) == c
    assert c != Vocab(c.itos[4:])  # level differs
    assert repr(v) == "Vocab(size=9, level='word', lower=False)"


def test_vocab_errors():
    with pytest.raises(ValueError, match=r"^\[Vocab\] max_size must be positive, got 0"):
        Vocab.build(CORPUS, max_size=0)
    with pytest.raises(ValueError, match=r"^\[Vocab\] min_freq must be a positive int, got 0"):
        Vocab.build(CORPUS, min_freq=0)
    with pytest.raises(ValueError, match=r"^\[Vocab\] level must be 'word' or 'char'"):
        Vocab.build(CORPUS, level="words")
    with pytest.raises(TypeError, match=r"^\[Vocab\] corpus must be an iterable of texts"):
        Vocab.build("one text")
    with pytest.raises(TypeError, match=r"^\[Vocab\] corpus items must be texts .* got int"):
        Vocab.build(["ok", 3])
    with pytest.raises(ValueError, match=r"^\[Vocab\] token 'a' is a duplicate"):
        Vocab(["a", "b", "a"])
    with pytest.raises(ValueError, match=r"^\[Vocab\] token '\[UNK\]' is a special token"):
        Vocab(["[UNK]"])
    with pytest.raises(TypeError, match=r"^\[Vocab\] tokens must be str, got int"):
        Vocab(["a", 1])
    with pytest.raises(ValueError, match=r"^\[Vocab\] state 'itos' must be a list starting"):
        Vocab.from_state_dict({"itos": ["a", "b"]})
    with pytest.raises(ValueError, match=r"^\[Vocab\] state must be a mapping"):
        Vocab.from_state_dict([1, 2])
    with pytest.raises(ValueError, match=r"^\[Vocab\] state 'lower' must be a bool"):
        Vocab.from_state_dict({"itos": list(SPECIALS), "lower": "yes"})


# ----------------------------------------------------------------------------- encode / decode
def test_encode_decode():
    v = Vocab.build(CORPUS)
    ids = v.encode("The FILM was great!")
    assert ids == [v["the"], v["film"], v["was"], UNK_INDEX, v["!"]]
    assert v.decode(ids) == "the film was [UNK] !"
    assert v.encode(["film", "Film"]) == [v["film"], UNK_INDEX]  # tokens are taken as given
    assert v.encode("") == [] and v.decode([]) == ""
    full = v.encode("the film was good", add_cls=True, add_sep=True)
    assert full[0] == CLS_INDEX and full[-1] == SEP_INDEX and len(full) == 6
    assert v.decode(full) == "the film was good"
    assert v.decode(full + [PAD_INDEX], skip_special=False) == "[CLS] the film was good [SEP] [PAD]"


def test_encode_truncation_keeps_specials():
    v = Vocab.build(CORPUS)
    assert v.encode("the film was good", max_len=2) == [v["the"], v["film"]]
    ids = v.encode("the film was good", max_len=3, add_cls=True, add_sep=True)
    assert ids == [CLS_INDEX, v["the"], SEP_INDEX]
    assert v.encode("the film", max_len=2, add_cls=True, add_sep=True) == [CLS_INDEX, SEP_INDEX]
    assert v.encode("film", max_len=9, add_cls=True) == [CLS_INDEX, v["film"]]
    with pytest.raises(ValueError, match=r"^\[Vocab\] max_len must be an int >= 2, got 1"):
        v.encode("film", max_len=1, add_cls=True, add_sep=True)
    with pytest.raises(ValueError, match=r"^\[Vocab\] max_len must be an int >= 0, got -1"):
        v.encode("film", max_len=-1)
    with pytest.raises(TypeError, match=r"^\[Vocab\] text must be a str or a list of str"):
        v.encode(5)


def test_char_level_vocab():
    v = Vocab.build(["Abba!", "ba"], level="char")
    assert v.itos[4:] == ("a", "b", "!")
    assert v.decode(v.encode("ABC ab")) == "ab[UNK][UNK]ab"


def test_encode_batch():
    v = Vocab.build(CORPUS)
    b = v.encode_batch(["the film", "good", ""], add_cls=True)
    assert b.ids.tolist() == [[2, v["the"], v["film"]], [2, v["good"], 0], [2, 0, 0]]
    assert b.lengths.tolist() == [3, 2, 1]
    b = v.encode_batch(["the film was good"], max_len=4, add_sep=True, pad_to_max=True)
    assert b.ids.tolist() == [[v["the"], v["film"], v["was"], SEP_INDEX]]
    assert v.encode_batch(["film"], max_len=4, pad_to_max=True).ids.shape == (1, 4)


# ----------------------------------------------------------------------------- padding, batches
def test_pad_to():
    assert pad_to([5, 6, 7], 5) == [5, 6, 7, 0, 0]
    assert pad_to([5, 6, 7], 2) == [5, 6]
    assert pad_to([], 2, pad_value=9) == [9, 9]
    assert pad_to(np.array([1, 2]), 0) == []
    with pytest.raises(ValueError, match=r"^\[pad_to\] length must be an int >= 0, got -1"):
        pad_to([1], -1)
    with pytest.raises(TypeError, match=r"^\[pad_to\] token ids must be a sequence of ints"):
        pad_to("abc", 3)


def test_pad_batch_masks_and_lengths():
    import pyfastdl as fd

    b = pad_batch([[4, 5, 6], [7], [], np.array([8, 9]), fd.tensor(np.array([1, 2, 3, 4]))])
    assert b.ids.dtype == np.int64 and b.ids.shape == (5, 4)
    assert b.padding_mask.dtype == np.bool_ and b.lengths.dtype == np.int64
    assert b.ids.tolist() == [[4, 5, 6, 0], [7, 0, 0, 0], [0] * 4, [8, 9, 0, 0], [1, 2, 3, 4]]
    assert b.lengths.tolist() == [3, 1, 0, 2, 4]
    np.testing.assert_array_equal(b.padding_mask, np.arange(4) >= b.lengths[:, None])
    ids, mask, lengths = pad_batch([[4, 5, 6], [7]], length=2, pad_value=-1)  # truncates
    assert ids.tolist() == [[4, 5], [7, -1]] and lengths.tolist() == [2, 1]
    assert mask.tolist() == [[False, False], [False, True]]
    assert pad_batch([[1], [2]], length=3).ids.tolist() == [[1, 0, 0], [2, 0, 0]]
    empty = pad_batch([])
    assert empty.ids.shape == (0, 0) and empty.lengths.shape == (0,)
    assert pad_batch([], length=3).ids.shape == (0, 3)
    assert pad_batch([[], []]).ids.shape == (2, 0)


def test_pad_batch_errors():
    with pytest.raises(TypeError, match=r"^\[pad_batch\] sequences must be a list of token-id"):
        pad_batch(5)
    with pytest.raises(TypeError, match=r"^\[pad_batch\] token ids must be a 1-d sequence"):
        pad_batch([[1, 2], [[3]]])
    with pytest.raises(TypeError, match=r"^\[pad_batch\] token ids must be a 1-d sequence"):
        pad_batch([[1, 2], [0.5]])
    with pytest.raises(TypeError, match=r"^\[pad_batch\] token ids must be a sequence of ints"):
        pad_batch([[1], "ab"])
    with pytest.raises(ValueError, match=r"^\[pad_batch\] length must be an int >= 0, got 2.0"):
        pad_batch([[1]], length=2.0)


def test_padding_mask_follows_pytorch_key_padding_mask():
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    attn = torch.nn.MultiheadAttention(8, 2, batch_first=True).eval()
    emb = torch.nn.Embedding(20, 8)
    b = pad_batch([[4, 5, 6, 7], [8, 9]])
    with torch.no_grad():
        x = emb(torch.from_numpy(b.ids))
        out, _ = attn(x, x, x, key_padding_mask=torch.from_numpy(b.padding_mask))
        short = emb(torch.tensor([[8, 9]]))
        ref, _ = attn(short, short, short)
    # the padded row attends only to its real tokens: its outputs match the unpadded sequence
    torch.testing.assert_close(out[1, :2], ref[0])


# ----------------------------------------------------------------------------- pairs
def test_encode_pair_segments():
    v = Vocab(["a", "b", "c", "d"])
    ids, seg = v.encode_pair("a b", "c d")
    assert ids == [CLS_INDEX, 4, 5, SEP_INDEX, 6, 7, SEP_INDEX]
    assert seg == [0, 0, 0, 0, 1, 1, 1]
    ids, seg = v.encode_pair("", "")
    assert ids == [CLS_INDEX, SEP_INDEX, SEP_INDEX] and seg == [0, 0, 1]
    assert v.encode_pair(["a"], "zz")[0] == [CLS_INDEX, 4, SEP_INDEX, UNK_INDEX, SEP_INDEX]


@pytest.mark.parametrize(
    "na, nb, max_len, kept",
    [
        (5, 2, 7, (2, 2)),  # the longer first loses tokens down to the shorter
        (2, 5, 7, (2, 2)),
        (4, 4, 7, (2, 2)),  # then alternately, the second first on a tie
        (4, 4, 8, (3, 2)),
        (6, 1, 8, (4, 1)),
        (3, 2, 8, (3, 2)),  # fits: unchanged
        (3, 2, 3, (0, 0)),
        (0, 9, 5, (0, 2)),
    ],
)
def test_encode_pair_longest_first_truncation(na, nb, max_len, kept):
    v = Vocab(["a", "b"])
    ids, seg = v.encode_pair(["a"] * na, ["b"] * nb, max_len=max_len)
    assert (ids.count(4), ids.count(5)) == kept
    assert len(ids) == len(seg) == sum(kept) + 3 <= max_len
    assert ids[: kept[0] + 2] == [CLS_INDEX] + [4] * kept[0] + [SEP_INDEX] and ids[-1] == SEP_INDEX


def test_encode_pairs_batch_and_errors():
    v = Vocab(["a", "b", "c"])
    b = v.encode_pairs([("a", "b c"), ("a b c", "")])
    assert b.ids.tolist() == [[2, 4, 3, 5, 6, 3], [2, 4, 5, 6, 3, 3]]
    assert b.segment_ids.tolist() == [[0, 0, 0, 1, 1, 1], [0, 0, 0, 0, 0, 1]]
    assert b.lengths.tolist() == [6, 6] and not b.padding_mask.any()
    b = v.encode_pairs([("a", "b")], max_len=8, pad_to_max=True)
    assert b.ids.tolist() == [[2, 4, 3, 5, 3, 0, 0, 0]]
    assert b.segment_ids.tolist() == [[0, 0, 0, 1, 1, 0, 0, 0]]
    assert b.padding_mask.tolist() == [[False] * 5 + [True] * 3]
    with pytest.raises(ValueError, match=r"^\[Vocab\] max_len must be an int >= 3, got 2"):
        v.encode_pair("a", "b", max_len=2)
