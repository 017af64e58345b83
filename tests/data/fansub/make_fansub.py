"""Provides the fansub-style subtitle test files: public subtitles dressed the way fansubs are.

Each source (CC BY subtitles of Sintel, Tears of Steel and Pepper&Carrot episode 6, see
README.md) becomes an ``.ass`` file with what fansub releases carry besides the spoken lines:
an OP and an ED song (karaoke-timed romaji with ``{\\k}`` tags, per-syllable templater ``fx``
lines, a translation style), a motion-tracked sign repeated frame by frame with ``{\\pos}`` /
``{\\frz}``, phone-screen text clipped and tracked over consecutive frames, static signs and
title cards, staff credits, translator notes (``注：…`` / ``TL note:``), Comment events, and a
second simultaneous speaker in a style of their own. Every event is written with a label, so
the speech / non-speech counts of the benchmark and the tests are exact.

    python tests/data/fansub/make_fansub.py          # rewrites the .ass and .labels.tsv files

``NAME.labels.tsv`` has one row per event: the ``Dialogue:``/``Comment:`` line number, ``speech``
or ``non-speech``, the kind (dialogue, overlap, top, sound / sign, motion-sign, phone, title, op,
ed, karaoke-fx, staff, note, comment) and the text.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
CORPORA = next(
    (
        p / "shared" / "corpora"
        for p in Path(__file__).resolve().parents
        if (p / "shared" / "corpora").is_dir()
    ),
    Path("/work/shared/corpora"),
)
FRAME = 1001 / 24000  # 23.976 fps
SPEECH_KINDS = {"dialogue", "overlap", "top", "sound"}
_TIME = re.compile(r"(\d+):(\d\d):(\d\d)[,.](\d{3})\s*-->\s*(\d+):(\d\d):(\d\d)[,.](\d{3})")


@dataclass
class Event:
    start: float
    end: float
    style: str
    text: str
    kind: str
    name: str = ""
    effect: str = ""
    layer: int = 0
    comment: bool = False


def read_srt(path: Path) -> list[tuple[float, float, list[str]]]:
    """Cues of an SRT file: (start, end, text lines)."""
    cues = []
    for block in re.split(r"\n\s*\n", path.read_text(encoding="utf-8").replace("\r\n", "\n")):
        lines = block.strip().split("\n")
        for index, line in enumerate(lines):
            match = _TIME.search(line)
            if match:
                g = [int(x) for x in match.groups()]
                start = g[0] * 3600 + g[1] * 60 + g[2] + g[3] / 1000
                end = g[4] * 3600 + g[5] * 60 + g[6] + g[7] / 1000
                cues.append((start, end, [t.strip() for t in lines[index + 1 :] if t.strip()]))
                break
    return cues


def ass_time(seconds: float) -> str:
    cs = max(0, round(seconds * 100))
    return f"{cs // 360000}:{cs // 6000 % 60:02d}:{cs // 100 % 60:02d}.{cs % 100:02d}"


@dataclass
class Profile:
    """What one generated file holds besides the spoken lines."""

    name: str
    styles: dict[str, str]  # role → style name
    titles: set[int]  # 1-based cue numbers that are on-screen title cards
    captions: dict[int, int]  # cue number → how many leading lines are an on-screen caption
    op: list[str]
    op_tr: list[str]
    ed: list[str]
    ed_tr: list[str]
    staff: list[str]
    notes: list[tuple[int, str]]  # (cue number, note shown with it)
    signs: list[tuple[int, str]]  # (cue number, static sign text)
    track: tuple[int, str, str]  # (cue number, text, style role) of the motion-tracked sign
    phone: tuple[int, list[str]]
    comments: list[tuple[int, str]]
    overlap_every: int = 7
    offset: float = 90.0
    bilingual: bool = False


def karaoke(line: str, rng: random.Random) -> tuple[str, list[tuple[str, int]]]:
    """``{\\k}``-timed text of a romaji line and its syllables with durations (centiseconds)."""
    syllables = re.findall(r"[^aeiou ]*[aeiou]+n?(?![aeiou])|[^aeiou ]+| ", line.lower())
    timed = [(s, rng.randint(12, 40)) for s in syllables if s]
    return "".join(f"{{\\k{d}}}{s}" for s, d in timed), timed


def song(
    events: list[Event],
    lines: list[str],
    tr: list[str],
    start: float,
    role: str,
    profile: Profile,
    rng: random.Random,
) -> float:
    """OP/ED: karaoke lines (template comment + fx per syllable + timed line) and a translation."""
    t = start
    style, tr_style = profile.styles[role], profile.styles[role + "_tr"]
    for line, translation in zip(lines, tr, strict=True):
        text, timed = karaoke(line, rng)
        end = t + sum(d for _, d in timed) / 100 + 0.3
        events.append(Event(t, end, style, text, "comment", effect="karaoke", comment=True))
        events.append(Event(t, end, style, "{\\fad(150,150)}" + text, role, effect=""))
        x, offset = 400, 0.0
        for syllable, duration in timed:
            if syllable.strip():
                events.append(
                    Event(
                        t + offset,
                        t + offset + duration / 100 + 0.2,
                        style,
                        f"{{\\an5\\pos({x},60)"
                        f"\\t(0,{duration * 10},\\fscx130\\fscy130)\\bord3}}{syllable}",
                        "karaoke-fx",
                        effect="fx",
                        layer=1,
                    )
                )
            x += 14 * len(syllable)
            offset += duration / 100
        events.append(Event(t, end, tr_style, "{\\fad(150,150)}" + translation, role))
        t = end + 0.2
    return t


def track(
    events: list[Event],
    start: float,
    text: str,
    style: str,
    frames: int,
    kind: str,
    rng: random.Random,
    clip: bool = False,
    y: int = 300,
    angle: float = -8.0,
) -> None:
    """A sign tracked over ``frames`` consecutive frames: a border and a fill layer per frame."""
    x = rng.randint(300, 900)
    for frame in range(frames):
        s, e = start + frame * FRAME, start + (frame + 1) * FRAME
        px, py, rot = x + frame * 3, y - frame, angle + frame * 0.2
        extra = f"\\clip(200,100,{px + 200},{py + 120})" if clip else ""
        for layer, colour in ((0, "\\bord6\\3c&H202020&\\c&H202020&"), (1, "\\bord0\\c&HFFFFFF&")):
            events.append(
                Event(
                    s,
                    e,
                    style,
                    f"{{\\pos({px},{py})\\frz{rot:.2f}\\fs44{colour}{extra}}}{text}",
                    kind,
                    layer=layer,
                )
            )


def build(profile: Profile, cues: list[tuple[float, float, list[str]]], seed: int) -> list[Event]:
    rng = random.Random(seed)
    st = profile.styles
    events: list[Event] = []
    t = song(events, profile.op, profile.op_tr, 2.0, "op", profile, rng)
    for i, credit in enumerate(profile.staff):
        events.append(
            Event(
                5 + i * 4,
                9 + i * 4,
                st["staff"],
                f"{{\\fad(300,300)\\an7\\pos(40,40)}}{credit}",
                "staff",
            )
        )
    offset = max(profile.offset, t + 2) - cues[0][0]
    previous_end = 0.0
    for number, (start, end, lines) in enumerate(cues, start=1):
        start, end = start + offset, end + offset
        if number in profile.titles:
            events.append(
                Event(
                    start,
                    end,
                    st["title"],
                    "{\\an8\\fs60\\fad(500,500)}" + "\\N".join(lines),
                    "title",
                )
            )
            continue
        lead = profile.captions.get(number, 0)
        if lead:
            events.append(
                Event(
                    start,
                    end,
                    st["sign"],
                    "{\\an8\\pos(640,90)\\fs36}" + " ".join(lines[:lead]),
                    "sign",
                )
            )
            lines = lines[lead:]
        text = "\\N".join(lines)
        sound = bool(re.fullmatch(r"\[[^\]]*\]|＊.*＊", text))
        if (
            profile.overlap_every
            and number % profile.overlap_every == 0
            and number > 1
            and not sound
        ):
            # a second speaker talking over the line before, in their own style at the top
            start = max(previous_end - 0.6, start - 1.0)
            events.append(Event(start, end, st["overlap"], text, "overlap"))
        elif number % 11 == 5 and not sound:
            events.append(Event(start, end, st["dialogue"], "{\\an8}" + text, "top"))
        elif number % 13 == 6 and not sound:
            events.append(Event(start, end, st["dialogue"], "{\\pos(640,650)}" + text, "dialogue"))
        else:
            events.append(Event(start, end, st["dialogue"], text, "sound" if sound else "dialogue"))
        previous_end = end
    shift = {n: cues[n - 1][0] + offset for n in range(1, len(cues) + 1)}
    for number, note in profile.notes:
        events.append(Event(shift[number], shift[number] + 4, st["note"], "{\\an8}" + note, "note"))
    for number, sign in profile.signs:
        events.append(
            Event(
                shift[number],
                shift[number] + 2.5,
                st["sign"],
                f"{{\\an7\\pos(120,80)\\fs40\\c&H00D7FF&}}{sign}",
                "sign",
            )
        )
    number, text, role = profile.track
    track(events, shift[number] - 0.5, text, st[role], 20, "motion-sign", rng)
    number, lines = profile.phone
    for row, line in enumerate(lines):
        track(
            events,
            shift[number] + row * 0.6,
            line,
            st["phone"],
            15,
            "phone",
            rng,
            clip=True,
            y=200 + 40 * row,
            angle=0.0,
        )
    for number, comment in profile.comments:
        events.append(
            Event(
                shift[number], shift[number] + 1, st["dialogue"], comment, "comment", comment=True
            )
        )
    last = max(e.end for e in events)
    song(events, profile.ed, profile.ed_tr, last + 2, "ed", profile, rng)
    return events


HEADER = """[Script Info]
; fansub-style test file generated by make_fansub.py (see README.md for the sources and licences)
Title: {title}
ScriptType: v4.00+
WrapStyle: 0
PlayResX: 1280
PlayResY: 720
ScaledBorderAndShadow: yes

[V4+ Styles]
Format: Name, Fontname, Fontsize, PrimaryColour, SecondaryColour, OutlineColour, BackColour, \
Bold, Italic, Underline, StrikeOut, ScaleX, ScaleY, Spacing, Angle, BorderStyle, Outline, \
Shadow, Alignment, MarginL, MarginR, MarginV, Encoding
{styles}
[Events]
Format: Layer, Start, End, Style, Name, MarginL, MarginR, MarginV, Effect, Text
"""


def render(profile: Profile, events: list[Event]) -> tuple[str, list[str]]:
    """The .ass text and the label rows (line, speech/non-speech, kind, text)."""
    styles = ""
    for role, name in profile.styles.items():
        align = 8 if role in ("overlap", "note", "title", "op_tr", "ed_tr", "staff") else 2
        styles += (
            f"Style: {name},Arial,{44 if role == 'dialogue' else 36},"
            "&H00FFFFFF,&H000000FF,&H00000000,"
            f"&H80000000,0,0,0,0,100,100,0,0,1,2,1,{align},30,30,30,1\n"
        )
    text = HEADER.format(title=profile.name, styles=styles)
    line = text.count("\n") + 1
    rows = []
    for event in events:
        head = "Comment" if event.comment else "Dialogue"
        text += (
            f"{head}: {event.layer},{ass_time(event.start)},{ass_time(event.end)},"
            f"{event.style},{event.name},"
            f"0,0,0,{event.effect},{event.text}\n"
        )
        label = "speech" if event.kind in SPEECH_KINDS else "non-speech"
        rows.append(f"{line}\t{label}\t{event.kind}\t{event.text}")
        line += 1
    return text, rows


EN_STYLES = {
    "dialogue": "Default",
    "overlap": "Default - Top",
    "note": "Notes",
    "sign": "Sign",
    "title": "Title",
    "phone": "Phone Screen",
    "staff": "Staff",
    "op": "OP Romaji",
    "op_tr": "OP English",
    "ed": "ED Romaji",
    "ed_tr": "ED English",
}
OP = [
    "kaze no naka de kimi wo yonda",
    "tooi yume no hate made",
    "hikari wa mada kienai",
    "futari de aruite yukou",
]
OP_EN = [
    "I called for you in the wind",
    "to the far end of a dream",
    "the light has not gone out yet",
    "let us walk on, the two of us",
]
ED = ["yoru ga akeru made", "kono te wo hanasanaide", "ashita mo onaji sora"]
ED_EN = ["until the night is over", "don't let go of this hand", "tomorrow the same sky"]


def profiles() -> list[tuple[Profile, list[tuple[float, float, list[str]]]]]:
    pepper = CORPORA / "pepper-and-carrot-ep06-subtitles"
    sintel = Profile(
        "sintel-fansub",
        dict(EN_STYLES, overlap="Overlap"),
        set(),
        {},
        OP,
        OP_EN,
        ED,
        ED_EN,
        ["Translation: Mira", "Timing: Oskar", "Typesetting: Jun", "Encoding: Tam", "QC: Rue"],
        [
            (7, "TL note: the gatekeepers guard the pass to the dragon lands."),
            (22, "T/N: Sintel is her name."),
        ],
        [(10, "DRAGON LANDS"), (13, "Camp")],
        (12, "THE GATEKEEPERS' PASS", "sign"),
        (17, ["Scales? 3 missed calls", "Where are you?", "Reply"]),
        [(3, "TLC: check 'unprepared'"), (15, "timing: snap to keyframe")],
    )
    tos = Profile(
        "tears-of-steel-fansub",
        dict(EN_STYLES, overlap="Alt"),
        set(),
        {9: 1},
        OP,
        OP_EN,
        ED,
        ED_EN,
        ["Translated by Ana", "Timed by Lee", "Typeset by Moe", "Edited by Kai"],
        [
            (34, "TL Note: 'memory overwrite' is the robot's reset command."),
            (43, "TN: vivacissimo, very lively."),
        ],
        [(10, "OUDE KERK, AMSTERDAM"), (26, "CONTROL ROOM"), (65, "ON AIR")],
        (15, "PROJECT: TEARS OF STEEL", "sign"),
        (48, ["INCOMING MESSAGE", "Captain: abort now", "Celia: no"]),
        [(1, "original: You're a jerk, Thom."), (33, "check line break"), (60, "fade in?")],
        overlap_every=9,
    )
    zh_styles = {
        "dialogue": "正文",
        "overlap": "正文-上",
        "note": "注释",
        "sign": "屏幕字",
        "title": "标题",
        "phone": "手机",
        "staff": "字幕组",
        "op": "片头-日",
        "op_tr": "片头-中",
        "ed": "片尾-日",
        "ed_tr": "片尾-中",
    }
    zh = Profile(
        "pepper-zhtw-fansub",
        zh_styles,
        {1, 2, 3, 25},
        {},
        OP,
        ["我在風中呼喚你", "直到遙遠夢境的盡頭", "光芒尚未熄滅", "讓我們兩人一起走下去"],
        ED,
        ["直到黑夜過去", "不要放開這隻手", "明天也是同一片天空"],
        [
            "本字幕由蘿蔔字幕組製作 僅供學習交流 禁止商用",
            "翻譯：小魚",
            "校對：阿明",
            "時軸：七七",
            "壓制：老王",
        ],
        [
            (26, "注：科魔拉（Komona）是故事中的城市名。"),
            (47, "注：行屍走肉魔藥，原文 Zombification。"),
            (85, "譯註：「魔藥」加引號，因為瓶子裡其實不是魔藥。"),
        ],
        [(26, "科魔拉市"), (43, "魔藥大賽")],
        (44, "特急：科魔拉方向", "dialogue"),
        (80, ["蘿蔔頭：喵", "小辣椒：在哪？", "已讀"]),
        [(5, "这句原文是 I fell asleep again"), (50, "待校对")],
    )
    bi_styles = {
        "dialogue": "Dial-CH",
        "overlap": "Dial-CH-Alt",
        "note": "Note",
        "sign": "Screen",
        "title": "Title",
        "phone": "Mobile",
        "staff": "STAFF",
        "op": "OPJP",
        "op_tr": "OPCN",
        "ed": "EDJP",
        "ed_tr": "EDCN",
    }
    bilingual = Profile(
        "pepper-bilingual-fansub",
        bi_styles,
        {1, 2, 3, 25},
        {},
        OP,
        ["我在风中呼唤你", "直到遥远梦境的尽头", "光芒尚未熄灭", "让我们两人一起走下去"],
        ED,
        ["直到黑夜过去", "不要放开这只手", "明天也是同一片天空"],
        ["胡萝卜字幕组 出品", "翻译：小鱼 & 阿明", "时轴：七七  后期：老王"],
        [
            (33, "注：本国选手指科魔拉本地的魔女。"),
            (60, "注：七味粉（Shichimi）是日本的一种调料。"),
        ],
        [(28, "参赛者"), (76, "市长")],
        (70, "危险！", "sign"),
        (88, ["标签：猫尿样本", "请勿饮用", "保质期 3 天"]),
        [(9, "比赛=contest"), (91, "check")],
        overlap_every=8,
        bilingual=True,
    )
    zh_cues = read_srt(pepper / "pepper-and-carrot-ep06-zhtw.srt")
    multi = read_srt(pepper / "pepper-and-carrot-ep06.msrt")
    bi_cues = []
    for start, end, lines in multi:
        zh_line = next((line[7:] for line in lines if line.startswith("[zhtw] ")), "")
        en_line = next((line[6:] for line in lines if line.startswith("[eng] ")), "")
        bi_cues.append((start, end, [f"{zh_line}\\N{{\\fs26\\c&HC8C8C8&}}{en_line}"]))
    return [
        (sintel, read_srt(CORPORA / "sintel-subtitles" / "sintel_en.srt")),
        (tos, read_srt(CORPORA / "tears-of-steel-subtitles" / "TOS-en.srt")),
        (zh, zh_cues),
        (bilingual, bi_cues),
    ]


def main() -> None:
    for seed, (profile, cues) in enumerate(profiles()):
        text, rows = render(profile, build(profile, cues, seed))
        (HERE / f"{profile.name}.ass").write_text(text, encoding="utf-8")
        (HERE / f"{profile.name}.labels.tsv").write_text(
            "line\tlabel\tkind\ttext\n" + "\n".join(rows) + "\n", encoding="utf-8"
        )
        speech = sum(1 for row in rows if row.split("\t")[1] == "speech")
        print(
            f"{profile.name}.ass: {len(rows)} events, {speech} speech, "
            f"{len(rows) - speech} non-speech"
        )


if __name__ == "__main__":
    main()
