"""Bad input through every parser: property-based (hypothesis) and special files.

Every input must end in a parse that keeps the contract (utterances with text, a kind and a line
inside the file) or an error that names the file: never another exception, never a hang. The
large fuzz run (thousands of inputs, 100 MB lines) is ``bench/fuzz_parsers.py``.
"""

from __future__ import annotations

import os
import tempfile
import threading
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from studio.api import ParseResult
from studio.api.encoding import decode_report
from studio.config import parse_config
from studio.corpus.inspect import parse_file
from studio.errors import InputError, StudioError
from studio.fsutil import read_jsonl
from studio.plugins import load_host

PARSERS = load_host().parsers
NAMES = sorted(PARSERS)
KINDS = {"dialogue", "narration", "action", "scene"}
FAST = settings(
    max_examples=60, deadline=3000, suppress_health_check=[HealthCheck.too_slow], database=None
)


def outcome(data: bytes, parser: str = "") -> ParseResult | StudioError:
    """Parse ``data`` as a file the way the studio does; a StudioError must name the file."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "input.txt"
        path.write_bytes(data)
        try:
            result = parse_file(path, PARSERS, parser=parser)
        except StudioError as exc:
            assert str(path) in str(exc), f"the error does not name the file: {exc}"
            return exc
        lines = result.source.text.count("\n") + 1
        assert isinstance(result, ParseResult) and result.parser in PARSERS
        for utt in result.utterances:
            assert isinstance(utt.text, str) and utt.kind in KINDS
            assert utt.speaker is None or isinstance(utt.speaker, str)
            assert 1 <= utt.line <= lines, (utt, lines)
            assert utt.file == str(path)
        return result


# -- generated input --------------------------------------------------------------------------

names = st.sampled_from(["ROMEO", "Nurse", "宝玉", "黛玉", "A", "First Citizen", "莞莞", "X" * 80])
speech = st.lists(
    st.sampled_from(
        list("abc xyz。，！？“”「」\"'‘’：:；（）()[]【】—…\t我你他说道") + ["love ", "said "]
    ),
    max_size=40,
).map("".join)
script_line = st.one_of(
    st.builds(
        lambda n, sep, t: f"{n}{sep}{t}",
        names,
        st.sampled_from(["：", ":", "∶", "；", ". ", "（笑）：", " (V.O.)\n"]),
        speech,
    ),
    st.sampled_from(
        [
            "",
            "第一集",
            "第3幕",
            "ACT II",
            "SCENE III. A street.",
            "INT. KITCHEN - NIGHT",
            "【另分一幕】",
            "（风起）",
            "(beat)",
            "Enter ROMEO",
            "CUT TO:",
        ]
    ),
    speech,
)
scripts = st.lists(script_line, max_size=60).map("\n".join)
paragraphs = st.lists(
    st.one_of(
        speech,
        st.builds(
            lambda q, t: f"{q[0]}{t}{q[1]}",
            st.sampled_from(
                [("“", "”"), ("「", "」"), ('"', '"'), ("‘", "’"), ("“", ""), ("『", "』")]
            ),
            speech,
        ),
    ),
    min_size=1,
    max_size=8,
).map("".join)
novels = st.lists(paragraphs, max_size=30).map("\n\n".join)
clock = st.one_of(
    st.builds(
        lambda h, m, s, ms, sep: f"{h:02d}:{m:02d}:{s:02d}{sep}{ms:03d}",
        st.integers(0, 999),
        st.integers(0, 99),
        st.integers(0, 99),
        st.integers(0, 9999),
        st.sampled_from([",", ".", ":"]),
    ),
    st.sampled_from(
        ["", "-1:00:00,000", "aa:bb:cc,ddd", "1:2:3,4", "99999999999999:00:00,000", "00:00:00"]
    ),
)
cue = st.builds(
    lambda i, a, arrow, b, t: f"{i}\n{a}{arrow}{b}\n{t}\n",
    st.one_of(st.integers(-5, 99999).map(str), st.just(""), st.just("x")),
    clock,
    st.sampled_from([" --> ", "-->", " -> ", " —> ", ""]),
    clock,
    speech,
)
srt_files = st.lists(cue, max_size=25).map("\n".join)
ass_files = st.builds(
    lambda fields, events: (
        "[Script Info]\nScriptType: v4.00+\n\n[Events]\nFormat: "
        + fields
        + "\n"
        + "\n".join(events)
    ),
    st.sampled_from(
        [
            "Layer, Start, End, Style, Name, MarginL, MarginR, MarginV, Effect, Text",
            "Start, End, Text",
            "Text, Start",
            "",
            "Name",
        ]
    ),
    st.lists(
        st.builds(
            lambda kind, a, b, name, text: f"{kind}: 0,{a},{b},Default,{name},0,0,0,,{text}",
            st.sampled_from(["Dialogue", "Comment", "Dialog"]),
            clock,
            clock,
            names,
            speech,
        ),
        max_size=20,
    ),
)
encodings = st.sampled_from(
    ["utf-8", "utf-8-sig", "gb18030", "big5", "utf-16", "utf-16-le", "latin-1", "shift_jis"]
)


@pytest.mark.parametrize("forced", ["", *NAMES])
@FAST
@given(data=st.binary(max_size=3000))
def test_random_bytes(forced, data):
    outcome(data, forced)


@pytest.mark.parametrize("forced", ["", *NAMES])
@FAST
@given(text=st.text(max_size=2000), encoding=encodings, cut=st.integers(0, 3))
def test_random_text_in_any_encoding_truncated_mid_character(forced, text, encoding, cut):
    data = text.encode(encoding, "replace")
    outcome(data[: len(data) - cut] if cut else data, forced)


@FAST
@given(parts=st.lists(st.tuples(st.one_of(scripts, novels), encodings), min_size=2, max_size=4))
def test_mixed_encodings_in_one_file(parts):
    outcome(b"".join(text.encode(encoding, "replace") for text, encoding in parts))


@pytest.mark.parametrize("forced", ["", *NAMES])
@FAST
@given(text=st.one_of(scripts, novels), newline=st.sampled_from(["\n", "\r\n", "\r"]))
def test_scripts_and_novels(forced, text, newline):
    outcome(text.replace("\n", newline).encode("utf-8"), forced)


@pytest.mark.parametrize("forced", ["", "subtitle"])
@FAST
@given(
    text=st.one_of(
        srt_files, ass_files, srt_files.map(lambda s: "WEBVTT\n\n" + s.replace(",", "."))
    )
)
def test_malformed_subtitle_timings_and_fields(forced, text):
    outcome(text.encode("utf-8"), forced)


@FAST
@given(data=st.binary(max_size=4000))
def test_decoding_is_total(data):
    try:
        source, warnings = decode_report(data, "input.txt")
    except InputError as exc:
        assert "input.txt" in str(exc)
        return
    assert "\r" not in source.text and not source.text.startswith("\ufeff") and source.text.strip()


# -- paths that are not ordinary files ------------------------------------------------------------


def within(seconds: float, work):
    """What ``work()`` returns or raises, from a thread; a hang fails instead of blocking."""
    box: list = []

    def run() -> None:
        try:
            box.append(work())
        except BaseException as exc:  # noqa: BLE001 - handed back to the test
            box.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), f"no answer within {seconds}s (a hang)"
    return box[0]


def special(tmp_path: Path, kind: str) -> Path:
    target = tmp_path / "real.txt"
    target.write_text("ROMEO: Good night.\nJULIET: Good night!\n", encoding="utf-8")
    path = tmp_path / "input.txt"
    if kind == "empty":
        path.write_bytes(b"")
    elif kind == "blank":
        path.write_text(" \n\t\r\n\u3000\n", encoding="utf-8")
    elif kind == "bom only":
        path.write_bytes(b"\xef\xbb\xbf")
    elif kind == "folder":
        path.mkdir()
    elif kind == "link to a folder":
        path.symlink_to(tmp_path)
    elif kind == "dangling link":
        path.symlink_to(tmp_path / "gone.txt")
    elif kind == "link loop":
        path.symlink_to(path)
    elif kind == "named pipe":
        os.mkfifo(path)  # reading it would block forever
    elif kind == "device":
        path.symlink_to("/dev/zero")  # reading it would never end
    elif kind == "missing":
        pass
    return path


@pytest.mark.parametrize(
    "kind",
    [
        "empty",
        "blank",
        "bom only",
        "folder",
        "link to a folder",
        "dangling link",
        "link loop",
        "named pipe",
        "device",
        "missing",
    ],
)
@pytest.mark.parametrize("forced", ["", *NAMES])
def test_special_paths_give_an_error_naming_them(tmp_path, kind, forced):
    path = special(tmp_path, kind)
    error = within(10, lambda: parse_file(path, PARSERS, parser=forced))
    assert isinstance(error, InputError) and str(path) in str(error), error


def test_a_link_to_a_file_is_read(tmp_path):
    path = tmp_path / "input.txt"
    (tmp_path / "real.txt").write_text(
        "ROMEO: Good night.\nJULIET: Good night!\n", encoding="utf-8"
    )
    path.symlink_to(tmp_path / "real.txt")
    assert parse_file(path, PARSERS).utterances


def test_a_long_single_line_of_quotes_parses_in_linear_time(tmp_path):
    path = tmp_path / "quotes.txt"
    path.write_text(
        '"a" ' * 90_000, encoding="utf-8"
    )  # a minute when each quote rescanned its paragraph
    result = within(60, lambda: outcome(path.read_bytes()))
    assert isinstance(result, ParseResult) and len(result.utterances) == 90_000


# -- JSON and TOML the studio reads back --------------------------------------------------------


@pytest.mark.parametrize(
    "line",
    [
        b"[" * 100_000 + b"]" * 100_000,
        b'{"a": ' * 50_000 + b"1" + b"}" * 50_000,
        b"\xff\xfe{}",
        b"[1, 2]",
        b"42",
        b'{"unterminated": ',
    ],
)
def test_jsonl_readers_name_the_bad_line(tmp_path, line):
    path = tmp_path / "journal.jsonl"
    path.write_bytes(b'{"ok": 1}\n' + line + b'\n{"ok": 2}\n')
    with pytest.raises(ValueError, match=r"journal\.jsonl:2"):
        read_jsonl(path)


def test_huge_valid_json_line_is_read(tmp_path):
    path = tmp_path / "journal.jsonl"
    path.write_text('{"big": "' + "x" * 20_000_000 + '"}\n', encoding="utf-8")
    assert len(read_jsonl(path)[0]["big"]) == 20_000_000


@pytest.mark.parametrize(
    "text",
    [
        "a = " + "[" * 5000 + "]" * 5000,
        "[train]\nepochs = inf",
        "[augment]\ntimeout = nan",
        "[train]\nlora_dropout = 2.0",
        "[character]\nname = 5",
        "\x00",
        "[corpus]\nfiles = [1]",
    ],
)
def test_studio_toml_errors_name_the_file(text):
    with pytest.raises(InputError, match="studio.toml"):
        parse_config(text, "studio.toml")
