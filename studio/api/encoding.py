"""Provides decoding of corpus files: encoding and line-ending detection with clear errors.

Detection order, cheapest and surest first:

1. a byte-order mark (UTF-8, UTF-16 LE/BE, UTF-32);
2. UTF-16 without a BOM, recognised by the zero bytes of its ASCII characters;
3. binary content (NUL bytes, control characters) is refused;
4. strict UTF-8 (ASCII is UTF-8);
5. GB18030 (a superset of GBK and GB2312) and Big5 (cp950 and HKSCS): both decoders accept
   most byte pairs, so each strict decoding is scored by how many of its Chinese characters are
   common ones; a Big5 file read as GB18030 turns into rare characters and loses;
6. charset-normalizer for anything else (Shift-JIS, Latin-1 …);
7. UTF-8 with a handful of broken bytes is read with replacement characters and reported.

The text handed to parsers has its BOM removed and every line ending normalised to ``\\n``;
the encoding and the line ending found are recorded on the :class:`SourceText`.
"""

from __future__ import annotations

import codecs
import stat
from pathlib import Path

from studio.api.records import ParseWarning, SourceText
from studio.errors import InputError

MAX_BYTES = 512 * 1024 * 1024
_SCORE_BYTES = 200_000  # enough text to tell GB18030 from Big5

# About 700 of the most frequent Chinese characters, simplified and traditional forms.
_COMMON = frozenset(
    "的一是不了人我在有他这中大来上个国到说们为子和你地出道也时年得就那要下以生会自着去之过家学"
    "对可她里后小么心多天而能好都然没日于起还发成事只作当想看文无开手十用主行方又如前所本见经头"
    "面公同三已老从动两长知民样现分将外但身些与高意进把法此实回二理美点月明其种声全工己话儿者向"
    "情部正名定女问力机给等几很业最间新什打便位因重被走电四第门相次东政海口使教西再平真听世气信"
    "北少关并内加化由却代军产入先山五太水万市眼体别处总才场师书比住员九笑性通目华报立马命张活难"
    "神数件安表原车白应路期叫死常提感金何更反合放做系计或司利受光王果亲界及今京务制解各任至清物"
    "台象记边共风战干接它许八特觉望直服毛林题建南度统色字请交爱让认算论百吃义科怎元社术结六功指"
    "思非流每青管夫连远资队跟带花快条院变联言权往展该领传近留红治决周保达办运武半候七必城父强步"
    "完革深区即求品士转量空甚众技轻程告江语英基派满式李息写呢识极令黄德收脸钱党倒未持取设始版双"
    "历越史商千片容研像找友孩站广改议形委早房音火际则首单据导影失拿网香似斯专石若兵弟谁校读志飞"
    "观争究包组造落视济喜离虽坐集编宝谈府拉黑且随格尽剑讲布杀微怕母调局根曾准团段终乐切级克精哪"
    "官示冷域姐妹娘哥皇帝妃宫朕臣奴婢主宁嫔贵爷夫人姑王殿阿啊吧呀吗哦嗯罢便只怎么"
    "們個來說時會對過還這國為後裡與見經開學發點動長間問關實話兒現樣應當從無聲將邊頭種聽覺讓給嗎"
    "誰讀寫請幾紅愛親變樂歡氣華書車馬門東萬買賣錢龍鳳黃錯難題電義們隻係麼麗陽陰傳員產區醫號廣"
    "師帶當機構歲歷於場議證論識護魚鳥條權衛總進運還遠連達過邊適選遲導將專對層屬島帥幫張強當彈"
    "從徑後復應戰戲戶擁據擇數斷時晝書會條極標樣樹橋機歐歸殘氣決沒況準溝滅漢災為無熱燈營獨獲現"
    "環畫當療發盡監盤眾睏礎確禮種穩窮競筆節範築簡糧紀約紅級純紙細終組結絕給統絲經綠維網緊線編"
    "練縣總繼續羅義習聯聲職聽腦臉與興舉舊艦藝處號蟲術衛補裝裡製複見規視親覺觀觸計訂認討訓記講"
    "設許訴診詞試詩該認語誤說課調談請論諸謝識證議讀變讓貝負財貨質買費資賣賽趕趙車軍軟輕輪輸轉辦"
    "辭農這進運過達違遙適選還邊鄉鄰醫釋里針鐘鐵銀錄錢鍵長門開閒間閱闆關陳陸隊階際隨險隻雖雙雜雞"
    "離難電頂項順須頭題額顏願類顧飛飯飲館驗體高鬥鬧魚鳥麥黃齊齒龍"
    "，。！？、：；“”‘’（）《》「」『』…—"
)
_CJK_RANGES = ((0x4E00, 0x9FFF), (0x3400, 0x4DBF), (0x20000, 0x2FFFF), (0xF900, 0xFAFF))


def _bom(data: bytes) -> str | None:
    if data.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if data.startswith((codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE)):
        return "utf-32"
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    return None


def _plausible(text: str) -> float:
    """Share of characters that are ordinary text (letters, CJK, punctuation, spacing)."""
    if not text:
        return 0.0
    sample = text[:20000]
    good = sum(1 for ch in sample if ch.isprintable() or ch.isspace())
    return good / len(sample)


def _utf16_without_bom(data: bytes) -> str | None:
    """``utf-16-le``/``-be`` when the bytes hold zeros and one byte order reads as ordinary text.

    ASCII characters give a zero byte in UTF-16; Chinese characters mostly do not, so the
    byte order is chosen by which decoding yields familiar characters, not by zero parity.
    """
    sample = data[:8192]
    sample = sample[: len(sample) // 2 * 2]
    if len(sample) < 4 or sample.count(0) < 2:
        return None
    best, best_score = None, 0.0
    for candidate in ("utf-16-le", "utf-16-be"):
        text = sample.decode(candidate, errors="replace")
        familiar = sum(1 for ch in text if (" " <= ch <= "~") or ch in "\n\r\t" or ch in _COMMON)
        score = familiar / max(len(text), 1)
        if score > best_score:
            best, best_score = candidate, score
    return best if best_score >= 0.5 else None


def _looks_binary(data: bytes) -> bool:
    sample = data[:8192]
    if b"\x00" in sample:
        return True
    control = sum(1 for b in sample if b < 32 and b not in (9, 10, 12, 13, 27))
    return control / max(len(sample), 1) > 0.02


def _chinese_score(text: str) -> float:
    """Share of the CJK characters of ``text`` that are common ones (0 when there are none)."""
    cjk = common = 0
    for ch in text:
        code = ord(ch)
        if code < 0x3000:
            continue
        if any(lo <= code <= hi for lo, hi in _CJK_RANGES) or ch in _COMMON:
            cjk += 1
            if ch in _COMMON:
                common += 1
        elif 0xE000 <= code <= 0xF8FF or 0xAC00 <= code <= 0xD7AF or 0x3040 <= code <= 0x30FF:
            cjk += 1  # private use, Hangul, kana: wrong decodings of Chinese bytes land here
    return common / cjk if cjk else 0.0


def _line_of(data: bytes, offset: int) -> int:
    return data.count(b"\n", 0, offset) + 1


def detect_newline(text: str) -> str:
    """The dominant line ending of ``text`` (before normalisation): ``\\r\\n``, ``\\n`` or ``\\r``."""
    crlf = text.count("\r\n")
    cr = text.count("\r") - crlf
    lf = text.count("\n") - crlf
    best = max((crlf, "\r\n"), (lf, "\n"), (cr, "\r"))
    return best[1] if best[0] else "\n"


def _guess_multibyte(data: bytes) -> tuple[str, str] | None:
    """Decode Chinese legacy encodings; return ``(encoding, text)`` of the best scoring one."""
    head = data[:_SCORE_BYTES]
    scored: list[tuple[float, str]] = []
    for candidate in ("gb18030", "big5", "cp950", "big5hkscs"):
        try:
            data.decode(candidate)
        except UnicodeDecodeError:
            continue
        score = _chinese_score(head.decode(candidate, errors="replace"))
        scored.append((score, candidate))
        if candidate.startswith("big5") or candidate == "cp950":
            break  # the first Big5 flavour that decodes the whole file is the one
    if not scored:
        return None
    score, best = max(scored, key=lambda item: item[0])
    if score < 0.25:
        return None
    return best, data.decode(best)


def decode_report(
    data: bytes, path: str | Path, encoding: str | None = None
) -> tuple[SourceText, list[ParseWarning]]:
    """Decode ``data`` read from ``path``; also return warnings about replaced bytes.

    Args:
        data: the raw bytes.
        path: for messages and the result.
        encoding: force an encoding instead of detecting one.

    Returns:
        The decoded source and warnings (one per line holding undecodable bytes that were
        replaced by U+FFFD; at most a handful are tolerated).

    Raises:
        InputError: empty, binary or undecodable content, naming the file and the line.
    """
    warnings: list[ParseWarning] = []
    if not data:
        raise InputError(
            path, "the file is empty; expected text (a script, novel or subtitle file)"
        )
    text: str | None = None
    chosen = encoding or _bom(data) or _utf16_without_bom(data)
    if chosen:
        try:
            text = data.decode(chosen)
        except LookupError:
            raise InputError(
                path, f"unknown encoding {chosen!r}; expected a codec name such as gb18030"
            ) from None
        except UnicodeDecodeError as exc:
            raise InputError(
                path,
                f"cannot decode as {chosen} at byte {exc.start}: {exc.reason}"
                + ("" if encoding else " (use --encoding to name the right one)"),
                _line_of(data, exc.start),
            ) from None
    elif _looks_binary(data):
        raise InputError(
            path,
            "this looks like a binary file, not text; expected UTF-8, GB18030, Big5 or UTF-16 text",
        )
    else:
        try:
            text, chosen = data.decode("utf-8"), "utf-8"
        except UnicodeDecodeError as utf8_error:
            guess = _guess_multibyte(data)
            if guess is None:
                guess = _repair_utf8(data, path, warnings) or _normalizer_guess(data)
            if guess is None:
                raise InputError(
                    path,
                    "cannot decode the text: not UTF-8, GB18030, Big5 or UTF-16 "
                    "(use --encoding to name the encoding)",
                    _line_of(data, utf8_error.start),
                ) from None
            chosen, text = guess
    assert text is not None and chosen is not None
    if text.startswith("\ufeff"):
        text = text[1:]
    newline = detect_newline(text)
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    if not text.strip():
        raise InputError(path, "the file holds only whitespace; expected text")
    return SourceText(path=Path(path), text=text, encoding=chosen, newline=newline), warnings


def _repair_utf8(
    data: bytes, path: str | Path, warnings: list[ParseWarning]
) -> tuple[str, str] | None:
    """UTF-8 with a few broken sequences (a truncated download, one bad edit): replace and report."""
    bad: list[int] = []
    start = 0
    while len(bad) <= 20:
        try:
            data[start:].decode("utf-8")
            break
        except UnicodeDecodeError as exc:
            bad.append(start + exc.start)
            start += exc.end
    if len(bad) > 20 or len(bad) * 1000 > len(data):
        return None
    text = data.decode("utf-8", errors="replace")
    if _plausible(text) < 0.95:
        return None
    for line in sorted({_line_of(data, offset) for offset in bad}):
        warnings.append(
            ParseWarning(str(path), line, "bytes that are not UTF-8 were replaced by U+FFFD")
        )
    return "utf-8", text


def _normalizer_guess(data: bytes) -> tuple[str, str] | None:
    from charset_normalizer import from_bytes

    best = from_bytes(data[:1_000_000]).best()
    if best is None or not best.encoding:
        return None
    try:
        text = data.decode(best.encoding)
    except (UnicodeDecodeError, LookupError):
        return None
    return (best.encoding, text) if _plausible(text) > 0.97 else None


def decode_bytes(data: bytes, path: str | Path, encoding: str | None = None) -> SourceText:
    """Decode ``data`` read from ``path`` (see :func:`decode_report`).

    Raises:
        InputError: empty, binary or undecodable content, naming the file and the line.
    """
    return decode_report(data, path, encoding)[0]


def read_bytes(path: str | Path) -> bytes:
    """Read a corpus file's bytes.

    Only regular files are read (a link to one is fine): a named pipe, a device or a socket
    would block or never end.

    Raises:
        InputError: missing, a folder, not a regular file, too large or unreadable.
    """
    path = Path(path)
    try:
        info = path.stat()
    except FileNotFoundError:
        if path.is_symlink():
            raise InputError(path, "a symbolic link to nothing (its target is gone)") from None
        raise InputError(path, "no such file") from None
    except OSError as exc:
        raise InputError(path, f"cannot read: {exc.strerror or exc}") from None
    if stat.S_ISDIR(info.st_mode):
        raise InputError(path, "this is a folder; expected a text file")
    if not stat.S_ISREG(info.st_mode):
        raise InputError(
            path, "not a regular file (a pipe, a device or a socket); expected a text file"
        )
    if info.st_size > MAX_BYTES:
        raise InputError(
            path,
            f"the file is {info.st_size / 2**20:.0f} MiB; expected at most {MAX_BYTES // 2**20} MiB",
        )
    try:
        with open(path, "rb") as handle:
            data = handle.read(MAX_BYTES + 1)
    except OSError as exc:
        raise InputError(path, f"cannot read: {exc.strerror or exc}") from None
    if len(data) > MAX_BYTES:  # it grew while we read it
        raise InputError(
            path,
            f"the file is over {MAX_BYTES // 2**20} MiB; expected at most {MAX_BYTES // 2**20} MiB",
        )
    return data


def read_source_report(
    path: str | Path, encoding: str | None = None
) -> tuple[SourceText, list[ParseWarning]]:
    """Read and decode a corpus file, with warnings about replaced bytes.

    Raises:
        InputError: missing file, a folder, too large, empty, binary or undecodable.
    """
    return decode_report(read_bytes(path), path, encoding)


def read_source(path: str | Path, encoding: str | None = None) -> SourceText:
    """Read and decode a text file (a corpus file, a plugin's word list), encoding detected.

    Plugins reach it as :func:`studio.api.read_text_file`.

    Raises:
        InputError: missing file, a folder, too large, empty, binary or undecodable.
    """
    return read_source_report(path, encoding)[0]
