"""Encoding and line-ending detection: every supported encoding, and clear errors for bad files."""

from __future__ import annotations

import random

import pytest

from studio.api.encoding import decode_report, read_source, read_source_report
from studio.errors import InputError

SIMPLIFIED = (
    "第一章 春日\n\n宜修笑道：“妹妹今日气色真好，可是昨夜睡得早？”\n莞莞低声说：“姐姐说笑了。”\n"
)
TRADITIONAL = "第一章 春日\n\n宜修笑道：「妹妹今日氣色真好，可是昨夜睡得早？」\n莞莞低聲說：「姐姐說笑了，這裡風大。」\n"


@pytest.mark.parametrize(
    ("text", "codec", "expected"),
    [
        (SIMPLIFIED, "utf-8", "utf-8"),
        (SIMPLIFIED, "utf-8-sig", "utf-8-sig"),
        (SIMPLIFIED, "utf-16", "utf-16"),
        (SIMPLIFIED, "utf-16-le", "utf-16-le"),
        (SIMPLIFIED, "utf-16-be", "utf-16-be"),
        (SIMPLIFIED, "gb18030", "gb18030"),
        (SIMPLIFIED, "gbk", "gb18030"),
        (TRADITIONAL, "big5", "big5"),
        (TRADITIONAL, "utf-8", "utf-8"),
    ],
)
def test_detects_encoding(text, codec, expected, tmp_path):
    path = tmp_path / "corpus.txt"
    path.write_bytes(text.encode(codec))
    source = read_source(path)
    assert source.encoding == expected
    assert source.text == text


@pytest.mark.parametrize(("newline", "name"), [("\r\n", "CRLF"), ("\r", "CR"), ("\n", "LF")])
def test_detects_and_normalises_line_endings(newline, name, tmp_path):
    path = tmp_path / "script.txt"
    path.write_bytes(SIMPLIFIED.replace("\n", newline).encode("gb18030"))
    source = read_source(path)
    assert source.newline == newline
    assert "\r" not in source.text and source.text == SIMPLIFIED


def test_big5_is_not_mistaken_for_gb18030():
    data = (TRADITIONAL * 3).encode("big5")
    data.decode("gb18030")  # GB18030 accepts these bytes too: only scoring tells them apart
    source, _ = decode_report(data, "tw.txt")
    assert source.encoding == "big5" and "氣色" in source.text


@pytest.mark.parametrize(
    ("data", "words"),
    [
        (b"", "empty"),
        (b"  \n\n\t ", "only whitespace"),
        (b"\x89PNG\r\n\x1a\n" + random.Random(1).randbytes(4000), "binary"),
        (b"\x00\x01\x02\x03" * 500, "binary"),
    ],
    ids=["empty", "whitespace", "png", "control-bytes"],
)
def test_bad_files_are_refused_naming_the_file(data, words, tmp_path):
    path = tmp_path / "bad.txt"
    path.write_bytes(data)
    with pytest.raises(InputError) as caught:
        read_source(path)
    assert str(path) in str(caught.value) and words in str(caught.value)


def test_forced_wrong_encoding_names_the_line(tmp_path):
    path = tmp_path / "novel.txt"
    path.write_bytes("第一行\n第二行\n".encode() + "第三行".encode("gb18030"))
    with pytest.raises(InputError) as caught:
        read_source(path, encoding="utf-8")
    assert caught.value.line == 3 and "utf-8" in str(caught.value)


def test_missing_file_and_folder(tmp_path):
    with pytest.raises(InputError, match="no such file"):
        read_source(tmp_path / "nope.txt")
    with pytest.raises(InputError, match="folder"):
        read_source(tmp_path)


def test_a_few_broken_utf8_bytes_are_replaced_and_reported(tmp_path):
    good = "".join(f"第{i}行：这是一句普通的话。\n" for i in range(200)).encode("utf-8")
    lines = good.split(b"\n")
    lines[41] = lines[41][:-2] + b"\xff"  # cut a character in half on line 42
    path = tmp_path / "torn.txt"
    path.write_bytes(b"\n".join(lines))
    source, warnings = read_source_report(path)
    assert source.encoding == "utf-8" and "\ufffd" in source.text
    assert [w.line for w in warnings] == [42]
