"""Provides the subtitle non-speech benchmark: what the subtitle parser drops and keeps, per file.

The inputs are the labelled fansub-style files of ``tests/data/fansub`` (public subtitles with
signs, songs, staff credits, notes, comments and a second speaker added; every event labelled
speech or non-speech by ``make_fansub.py``). An event is kept when at least one utterance comes
from its line.

    python bench/subtitle_filter.py                   # every labelled file
    python bench/subtitle_filter.py path/to/x.ass     # files with a x.labels.tsv beside them
    python bench/subtitle_filter.py --neutral         # also with neutral style names

``--neutral`` shows how much of the result rests on the evidence of the events alone: the style
names (Sign, OP, 注释 …) are replaced by meaningless ones in a temporary copy.

Goals: at least 95% of the non-speech events dropped and 98% of the speech events kept.
"""

from __future__ import annotations

import argparse
import csv
import re
import shutil
import tempfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

FANSUB = Path(__file__).resolve().parents[1] / "tests" / "data" / "fansub"


@dataclass
class Score:
    """The counts of one labelled file."""

    file: str
    events: int
    speech: int
    speech_kept: int
    non_speech: int
    non_speech_dropped: int
    missed: Counter[str] = field(default_factory=Counter)  # kinds of wrongly kept / dropped events
    speakers: Counter[str] = field(default_factory=Counter)

    @property
    def dropped_pct(self) -> float:
        return 100.0 * self.non_speech_dropped / self.non_speech if self.non_speech else 100.0

    @property
    def kept_pct(self) -> float:
        return 100.0 * self.speech_kept / self.speech if self.speech else 100.0


def labels_of(path: Path) -> list[dict[str, str]]:
    """The label rows written beside ``path`` (``NAME.labels.tsv``)."""
    table = path.with_name(path.name.removesuffix(path.suffix) + ".labels.tsv")
    with open(table, encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle, delimiter="\t", quoting=csv.QUOTE_NONE))


def score(path: Path, parsers: Any) -> Score:
    """Parse ``path`` with the subtitle parser and compare the kept lines with its labels."""
    from studio.corpus.inspect import parse_file

    result = parse_file(path, parsers, parser="subtitle")
    kept = {u.line for u in result.utterances}
    rows = labels_of(path)
    out = Score(path.name, len(rows), 0, 0, 0, 0)
    for row in rows:
        line = int(row["line"])
        if row["label"] == "speech":
            out.speech += 1
            if line in kept:
                out.speech_kept += 1
            else:
                out.missed[f"dropped {row['kind']}"] += 1
        else:
            out.non_speech += 1
            if line not in kept:
                out.non_speech_dropped += 1
            else:
                out.missed[f"kept {row['kind']}"] += 1
    out.speakers.update(u.speaker for u in result.utterances if u.speaker)
    return out


def neutral_copy(path: Path, folder: Path) -> Path:
    """A copy of ``path`` (and its labels) whose style names say nothing: Style1, Style2 …"""
    text = path.read_text(encoding="utf-8")
    names = re.findall(r"^Style:\s*([^,]+),", text, re.M)
    rename = {name: f"Style{number}" for number, name in enumerate(names, start=1)}
    text = re.sub(
        r"^Style:\s*([^,]+),", lambda m: f"Style: {rename[m.group(1)]},", text, flags=re.M
    )
    text = re.sub(
        r"^((?:Dialogue|Comment):[^,]*,[^,]*,[^,]*,)([^,]*),",
        lambda m: m.group(1) + rename.get(m.group(2), m.group(2)) + ",",
        text,
        flags=re.M,
    )
    out = folder / f"{path.stem}-neutral{path.suffix}"
    out.write_text(text, encoding="utf-8")
    labels = path.with_name(path.name.removesuffix(path.suffix) + ".labels.tsv")
    shutil.copy(labels, out.with_name(out.name.removesuffix(out.suffix) + ".labels.tsv"))
    return out


def main() -> None:
    from studio.plugins import load_host

    args = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    args.add_argument(
        "files", nargs="*", type=Path, help="labelled .ass/.srt files (default: tests/data/fansub)"
    )
    args.add_argument(
        "--neutral", action="store_true", help="also score copies with neutral style names"
    )
    opts = args.parse_args()
    files = opts.files or sorted(FANSUB.glob("*.ass"))
    folder = Path(tempfile.mkdtemp(prefix="subtitle-filter-"))
    if opts.neutral:
        files = files + [neutral_copy(path, folder) for path in files if path.suffix == ".ass"]
    parsers = load_host().parsers
    print(
        f"{'file':<36} {'events':>6} {'speech':>6} {'non-speech':>10} {'dropped %':>9} "
        f"{'kept %':>7}  misses"
    )
    totals = Score("all", 0, 0, 0, 0, 0)
    for path in files:
        s = score(path, parsers)
        misses = ", ".join(f"{kind} {count}" for kind, count in s.missed.most_common()) or "-"
        print(
            f"{s.file:<36} {s.events:>6} {s.speech:>6} {s.non_speech:>10} {s.dropped_pct:>9.1f} "
            f"{s.kept_pct:>7.1f}  {misses}"
        )
        for name in ("events", "speech", "speech_kept", "non_speech", "non_speech_dropped"):
            setattr(totals, name, getattr(totals, name) + getattr(s, name))
    print(
        f"{'all':<36} {totals.events:>6} {totals.speech:>6} {totals.non_speech:>10} "
        f"{totals.dropped_pct:>9.1f} {totals.kept_pct:>7.1f}"
    )
    shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
