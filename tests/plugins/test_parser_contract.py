"""Contract of every registered corpus parser: sniff range, own sample, file/line, bad files."""

from __future__ import annotations

from pathlib import Path

import pytest

from studio.api import CorpusParser, SourceText
from studio.corpus.inspect import parse_file
from studio.errors import InputError
from studio.plugins import load_host

SAMPLES = {
    "screenplay": "第1幕\n（书房）\n宜修：妹妹来了。\n莞莞（笑）：姐姐好。\n",
    "prose": "第一章\n\n    眉庄笑道：“妹妹来了。”\n    我向眉庄点头道：“姐姐好。”\n",
    "subtitle": "1\n00:00:01,000 --> 00:00:02,000\nMARA: Hello.\n\n2\n00:00:02,500 --> 00:00:04,000\nTOM: Hi.\n",
}
PARSERS = sorted(load_host().parsers)


@pytest.fixture(params=PARSERS)
def parser(request, host) -> CorpusParser:
    return host.parsers[request.param]


def test_parsers_follow_the_protocol(parser):
    assert isinstance(parser, CorpusParser)
    assert parser.name and parser.description
    assert all(opt.name for opt in parser.options)


@pytest.mark.parametrize("sample", sorted(SAMPLES))
def test_sniff_is_a_confidence_between_0_and_1(parser, sample):
    score = parser.sniff(SourceText(Path("x.txt"), SAMPLES[sample], "utf-8"))
    assert 0.0 <= score <= 1.0


def test_own_sample_gives_utterances_with_source_positions(parser, tmp_path):
    if parser.name not in SAMPLES:
        pytest.skip(f"no sample for the third-party parser {parser.name}")
    path = tmp_path / "sample.txt"
    path.write_text(SAMPLES[parser.name], encoding="utf-8")
    result = parse_file(path, {parser.name: parser})  # the parser must also win its own sniff
    assert result.parser == parser.name
    dialogue = [u for u in result.utterances if u.kind == "dialogue"]
    assert len(dialogue) == 2 and all(u.speaker for u in dialogue)
    assert all(u.file == str(path) and u.line >= 1 for u in result.utterances)
    assert all(u.kind in ("dialogue", "narration", "action", "scene") for u in result.utterances)
    sniffed = parse_file(path, load_host().parsers)
    assert sniffed.parser == parser.name  # the best of all parsers for its own kind of file


@pytest.mark.parametrize(
    "content", [b"", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(300)], ids=["empty", "binary"]
)
def test_bad_files_give_an_input_error_naming_the_file(parser, content, tmp_path):
    path = tmp_path / "bad.txt"
    path.write_bytes(content)
    with pytest.raises(InputError) as caught:
        parse_file(path, {parser.name: parser}, parser=parser.name)
    assert str(path) in str(caught.value)
