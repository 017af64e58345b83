"""The subtitle non-speech filter: signs, songs, staff, notes and comments dropped; speech kept."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

from studio.api import SourceText

ROOT = Path(__file__).resolve().parents[2]
FANSUB = ROOT / "tests" / "data" / "fansub"
FILES = sorted(FANSUB.glob("*.ass"))


def _module(path: Path, name: str):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def _parse(host, text, name="subs.ass"):
    parser = host.parsers["subtitle"]
    return parser.parse(
        SourceText(Path(name), text, "utf-8"), {o.name: o.default for o in parser.options}
    )


@pytest.fixture(scope="module")
def bench():
    return _module(ROOT / "bench" / "subtitle_filter.py", "subtitle_filter_bench")


def test_the_fansub_files_are_there():
    assert [p.name for p in FILES] == [
        "pepper-bilingual-fansub.ass",
        "pepper-zhtw-fansub.ass",
        "sintel-fansub.ass",
        "tears-of-steel-fansub.ass",
    ]


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.stem)
def test_non_speech_dropped_and_speech_kept(host, bench, path):
    score = bench.score(path, host.parsers)
    assert score.non_speech >= 200 and score.speech >= 26
    assert score.dropped_pct >= 95.0, score.missed
    assert score.kept_pct >= 98.0, score.missed


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.stem)
def test_with_neutral_style_names_the_evidence_still_holds(host, bench, path, tmp_path):
    score = bench.score(bench.neutral_copy(path, tmp_path), host.parsers)
    assert score.dropped_pct >= 95.0, score.missed
    assert score.kept_pct >= 98.0, score.missed


def test_a_sign_never_becomes_a_speaker_and_the_dropped_kinds_are_reported(host):
    path = FANSUB / "pepper-zhtw-fansub.ass"
    result = _parse(host, path.read_text(encoding="utf-8"), path.name)
    speakers = {u.speaker for u in result.utterances}
    assert "特急" not in speakers and not any("特急" in u.text for u in result.utterances)
    assert speakers == {None}  # nameless cues stay UNKNOWN
    messages = " | ".join(w.message for w in result.warnings)
    for kind in (
        "Comment events",
        "songs (OP/ED, karaoke)",
        "staff credits",
        "titles",
        "translator notes",
        "signs repeated frame by frame",
    ):
        assert f" {kind}" in messages
    assert "not speech, dropped: 130 signs repeated frame by frame (4 distinct texts)" in messages
    second = [u for u in result.utterances if u.line in _lines_of(path, "overlap")]
    assert len(second) >= 10 and all(u.kind == "dialogue" for u in second)


def _lines_of(path: Path, kind: str) -> set[int]:
    rows = (path.with_name(path.stem + ".labels.tsv")).read_text(encoding="utf-8").splitlines()[1:]
    return {int(row.split("\t")[0]) for row in rows if row.split("\t")[2] == kind}


HEAD = """[Script Info]
ScriptType: v4.00+

[Events]
Format: Layer, Start, End, Style, Name, MarginL, MarginR, MarginV, Effect, Text
"""


def _frames(style: str, text: str, start: float, count: int, tags: str = "") -> str:
    out = ""
    for frame in range(count):
        s, e = start + frame * 0.04, start + (frame + 1) * 0.04
        out += (
            f"Dialogue: 0,0:00:{s:05.2f},0:00:{e:05.2f},{style},,0,0,0,,"
            f"{{\\pos({100 + frame},{200 - frame}){tags}}}{text}\n"
        )
    return out


def test_evidence_per_event_and_per_style(host):
    events = [  # (start second, style, name, text, comment); lines 6, 7, …
        (1, "Default", "", "You came back.", False),  # 6 speech
        (2, "Default - Top", "", "Over here!", False),  # 7 a second speaker
        (4, "Default", "", "{\\an8}Up top, because of a sign.", False),  # 8 speech
        (6, "Default", "", "{\\pos(640,650)}Moved once.", False),  # 9 speech
        (8, "Default", "", "{\\pos(320,80)\\fs60\\c&H00FFFF&}特急：东京方向", False),  # 10 sign
        (10, "Default", "", "{\\k20}la{\\k30}la", False),  # 11 karaoke
        (12, "Default", "", "注：东京是日本的首都。", False),  # 12 note
        (14, "Default", "", "Timing: Oskar", False),  # 13 staff
        (16, "Default", "", "check this line", True),  # 14 comment
        (18, "Default", "Sign", "EXIT", False),  # 15 the Name field says sign
        (20, "Default", "", "{\\frz12}rotated", False),  # 16 sign
        (22, "Default", "Mara", "Still here.", False),  # 17 speech, named
        (24, "Default", "", "ANNA: Yes.", False),  # 18 speech, prefix
    ]
    text = HEAD
    for start, style, name, body, comment in events:
        head = "Comment" if comment else "Dialogue"
        times = f"0:00:{start:02d}.00,0:00:{start + 2:02d}.00"
        text += f"{head}: 0,{times},{style},{name},0,0,0,,{body}\n"
    text += _frames("S2", "特急", 30.0, 6)  # 19-24 tracked frame by frame in a neutral style
    text += "Dialogue: 0,0:00:40.00,0:00:42.00,S2,,0,0,0,,{\\pos(10,10)}static\n"  # 25 by evidence
    result = _parse(host, text)
    kept = [(u.line, u.speaker, u.text) for u in result.utterances]
    assert kept == [
        (6, None, "You came back."),
        (7, None, "Over here!"),
        (8, None, "Up top, because of a sign."),
        (9, None, "Moved once."),
        (17, "Mara", "Still here."),
        (18, "ANNA", "Yes."),
    ]
    messages = {w.line: w.message for w in result.warnings}
    assert (
        messages[10] == "not speech, dropped: 4 signs; styles Default, S2"
    )  # 10, 15, 16 and 25 by evidence
    assert messages[19].startswith(
        "not speech, dropped: 6 signs repeated frame by frame (1 distinct texts)"
    )
    assert messages[11].startswith("not speech, dropped: 1 songs") and messages[12].startswith(
        "not speech, dropped: 1 translator notes"
    )


def test_plain_srt_keeps_every_spoken_cue(host):
    srt = Path("/work/shared/corpora/tears-of-steel-subtitles/TOS-en.srt")
    if not srt.exists():
        pytest.skip("the shared corpora are not here")
    result = _parse(host, srt.read_text(encoding="utf-8"), "TOS-en.srt")
    assert len({u.line for u in result.utterances}) == 76 and not result.warnings


def test_the_generator_reproduces_the_files(tmp_path):
    make = _module(FANSUB / "make_fansub.py", "make_fansub_module")
    if not make.CORPORA.is_dir():
        pytest.skip("the shared corpora are not here")
    for seed, (profile, cues) in enumerate(make.profiles()):
        text, rows = make.render(profile, make.build(profile, cues, seed))
        assert text == (FANSUB / f"{profile.name}.ass").read_text(encoding="utf-8")
