"""GPT-2's data-gym files, rebuilt from r50k_base byte for byte, and read back."""
from __future__ import annotations

import hashlib
import json

import pytest

from refimpl import data_gym, data_gym_to_mergeable_bpe_ranks
from refimpl.errors import RankFileError
from refimpl.load import load_bundled_ranks


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    vocab_bpe, encoder_json = data_gym.mergeable_ranks_to_data_gym(load_bundled_ranks("r50k_base"))
    folder = tmp_path_factory.mktemp("gpt2")
    (folder / "vocab.bpe").write_bytes(vocab_bpe)
    (folder / "encoder.json").write_bytes(encoder_json)
    return folder


def test_rebuilt_files_have_the_official_hashes(files):
    assert hashlib.sha256((files / "vocab.bpe").read_bytes()).hexdigest() == data_gym.VOCAB_BPE_HASH
    assert hashlib.sha256((files / "encoder.json").read_bytes()).hexdigest() == data_gym.ENCODER_JSON_HASH


def test_reading_them_gives_r50k_ranks_as_tiktoken_does(files, tiktoken):
    from tiktoken.load import data_gym_to_mergeable_bpe_ranks as theirs

    ours = data_gym_to_mergeable_bpe_ranks(files / "vocab.bpe", files / "encoder.json",
                                           data_gym.VOCAB_BPE_HASH, data_gym.ENCODER_JSON_HASH)
    assert ours == load_bundled_ranks("r50k_base")
    assert ours == theirs(str(files / "vocab.bpe"), str(files / "encoder.json"))


def test_mismatched_encoder_is_reported(files, tmp_path):
    table = json.loads((files / "encoder.json").read_text())
    table["hello"] = 1
    (tmp_path / "encoder.json").write_text(json.dumps(table))
    with pytest.raises(RankFileError, match=r"does not match the merges in .*first differences"):
        data_gym_to_mergeable_bpe_ranks(files / "vocab.bpe", tmp_path / "encoder.json")


def test_wrong_hash_is_reported(files):
    with pytest.raises(RankFileError, match=r"vocab.bpe' does not have the expected sha256 00"):
        data_gym_to_mergeable_bpe_ranks(files / "vocab.bpe", files / "encoder.json", vocab_bpe_hash="00")


def test_ranks_not_in_gpt2_byte_order_are_refused():
    with pytest.raises(RankFileError, match=r"ranks 0..255 are not single bytes in GPT-2's alphabet order"):
        data_gym.mergeable_ranks_to_data_gym({bytes([i]): i for i in range(256)})


def test_merge_line_with_three_parts_is_reported(files, tmp_path):
    lines = (files / "vocab.bpe").read_text(encoding="utf-8").split("\n")
    lines[1] = lines[1] + " extra"
    (tmp_path / "vocab.bpe").write_text("\n".join(lines), encoding="utf-8")
    with pytest.raises(RankFileError, match=r"line 2 of .*vocab.bpe' is not two tokens: \('Ġ', 't', 'extra'\)"):
        data_gym_to_mergeable_bpe_ranks(tmp_path / "vocab.bpe", files / "encoder.json")


def test_character_outside_the_alphabet_is_reported(files, tmp_path):
    lines = (files / "vocab.bpe").read_text(encoding="utf-8").split("\n")
    lines[1] = "\u4e00 t"
    (tmp_path / "vocab.bpe").write_text("\n".join(lines), encoding="utf-8")
    with pytest.raises(RankFileError, match=r"character '\u4e00' is not in GPT-2's byte alphabet"):
        data_gym_to_mergeable_bpe_ranks(tmp_path / "vocab.bpe", files / "encoder.json")


def test_token_that_is_not_one_merge_is_refused():
    ranks = {bytes([b]): i for i, b in enumerate(data_gym._alphabet()[0])}
    ranks[b"abc"] = 256  # no "ab" or "bc" below it: BPE leaves three parts
    with pytest.raises(RankFileError, match=r"token b'abc' \(rank 256\) does not come from one merge"):
        data_gym.mergeable_ranks_to_data_gym(ranks)
