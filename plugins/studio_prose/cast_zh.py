"""Provides the cast-level word knowledge of the Chinese rules: who can be a speaker at all.

- ``simplified``: a one-to-one character map from Traditional to Simplified forms of the words the
  rules read (說→说, 對→对, 們→们 …), so that one set of rules serves both scripts; offsets stay
  the same, and names are shown as the text spells them;
- ``person_tag``: jieba's part-of-speech dictionary (``nr`` person name, ``nrfg``/``nrt`` full and
  transliterated names), loaded once per process on first use; it ships inside the jieba wheel;
- group words (众人, 婆子们, 内中, 两人) never name one speaker; storyteller asides (看官, 列公,
  说书的) are narration; bare roles (掌柜, 差人, 船家) name nobody unless the book's cast holds
  exactly one person with that title (秀才 → 赵秀才 when 赵秀才 is the only one).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import lru_cache

_PAIRS = (
    "說说問问嘆叹歎叹罵骂喚唤勸劝應应語语聲声對对與与讓让請请見见聽听隨随帶带們们眾众兩两這这個个裡里裏里"
    "麼么時时後后卻却還还邊边頭头臉脸淚泪開开過过將将從从為为於于並并纔才祇只進进轉转點点搖摇雖虽幾几"
    "許许爺爷媽妈孃娘嬤嬷婦妇親亲師师長长員员會会輕轻則则聞闻罷罢畢毕歡欢氣气憐怜獃呆斷断總总著着給给"
    "烏乌攙搀攔拦驚惊訝讶囑嘱咐咐嚷嚷嗎吗謂谓曉晓憑凭誰谁們们吶呐啊啊喲哟叫叫"
    "無无話话來来門门關关間间東东車车馬马紅红綠绿書书學学寫写讀读買买賣卖錢钱飯饭歲岁樣样覺觉處处實实現现發发經经義义動动當当體体萬万種种興兴樂乐愛爱電电寶宝貝贝兒儿爾尔須须爲为僅仅傳传鳳凤龍龙華华"
    "張张陳陈劉刘鄧邓趙赵孫孙吳吴鄭郑馮冯蔣蒋韓韩楊杨謝谢鄒邹蕭萧盧卢賈贾樓楼閒闲閑闲認认識识讓让諸诸議议論论講讲記记該该誰谁調调談谈變变難难雜杂離离願愿顧顾頓顿題题類类風风飛飞餘余館馆髮发鬍胡鬧闹"
    "鬥斗黃黄齊齐夠够夢梦奪夺寧宁專专尋寻導导層层幫帮廟庙廣广強强彈弹懷怀態态戰战戲戏據据擺摆擊击數数斷断暫暂條条極极標标機机權权殺杀漢汉濟济熱热爭争牽牵獨独環环產产畫画盡尽禮礼禍祸窮穷節节簡简紀纪"
    "約约紙纸細细終终結结絕绝統统絲丝線线緊紧練练縣县繼继續续習习聯联職职膽胆腦脑臨临舊旧莊庄葉叶蓋盖藥药蘇苏號号蟲虫衛卫補补裝装觀观規规計计訴诉詞词試试詩诗誤误負负財财貨货貪贪貴贵費费資资賊贼賞赏"
    "賢贤趕赶軍军較较輸输辦办農农遠远違违連连運运達达選选鄉乡醫医釋释針针鐘钟錯错閃闪閱阅陣阵陰阴陽阳際际險险雙双雞鸡靈灵順顺領领額额顏颜顯显飄飘飲饮飽饱養养驗验魚鱼鳥鸟麥麦黨党齡龄銀银兩两親亲愛爱"
    "壞坏處处園园圍围國国圖图團团場场塊块壓压奮奋孃娘寬宽層层嵗岁廳厅彎弯徑径衝冲惡恶悶闷慣惯慶庆憂忧懶懒懸悬揮挥換换損损搶抢擔担擠挤擴扩攜携敗败敵敌斂敛於于昇升暈晕曆历棄弃極极槍枪歸归歷历殘残滅灭"
    "滿满漸渐潔洁灑洒灣湾燈灯爐炉獄狱獲获瑪玛瓊琼甦苏畢毕疊叠瘋疯療疗盜盗盤盘睜睁碼码確确穩稳窗窗競竞筆笔範范糧粮緒绪罰罚羅罗聖圣聲声肅肃腳脚膚肤艱艰蘭兰虧亏蝦虾襪袜覆覆訪访設设許许證证譯译護护讚赞"
    "豐丰貓猫賠赔購购贈赠跡迹蹤踪轉转辭辞遞递遲迟適适還还郵邮鎖锁鎮镇開开陸陆隊队隨随際际雖虽雲云靜静響响頂顶項项預预頭头飢饥騎骑驚惊髒脏鬆松麗丽點点齒齿龜龟壽寿邊边燒烧壺壶婦妇姪侄娛娱孫孙嬸婶媽妈"
    "嫗妪奶奶爺爷姦奸"
)
_T2S = str.maketrans({_PAIRS[i]: _PAIRS[i + 1] for i in range(0, len(_PAIRS), 2)})

GROUP_WORDS = frozenset(
    "众人 大家 众 两人 二人 三人 几人 众位 诸位 二位 两位 内中 婆子 婆子们 家人 众丫头 丫头们 "
    "丫鬟们 两公子 兄弟两个 姊妹们 姐妹们 众姊妹 众姐妹 他两个 众人们 众小厮 小厮们 众婆子 "
    "众媳妇 大众 人人 有人 有的 那人 这人 一人 旁人 别人 众官 众客 众僧".split()
)
# occupations and descriptions that name nobody in particular (a book has many 船家 and 老者)
ROLE_WORDS = frozenset(
    "船家 店家 走堂 走堂的 店主人 店小二 小二 掌柜 掌柜的 伙计 差人 衙役 门子 门上人 家丁 小厮 "
    "丫头 丫鬟 媳妇 和尚 老和尚 道士 尼姑 女尼 虔婆 乌龟 堂倌 轿夫 车夫 船夫 长随 书办 县官 "
    "医生 郎中 老者 老人 少年 妇人 女子 婆婆 老太 老头 老头子 孩子 小孩 汉子 大汉 客人 僧官 "
    "女先 女先儿 地保 丈人 那人 来人 门公 看门的 老妪 老婆子 兵丁 官兵 太监 宫女 侍卫 奴才 "
    "奴婢 仆人".split()
)
STORYTELLER = frozenset({"看官", "列公", "说书的", "列位", "在下", "说书人", "作者"})
_GROUP_SHAPE = re.compile(r"^(?:众|诸|各)|^[两二三四几]+[人位个]|(?:们|等|众|辈)$")  # not 三公子
_PERSON_TAGS = {"nr", "nrfg", "nrt"}


def simplified(text: str) -> str:
    """``text`` with the Traditional characters the rules read made Simplified (same length)."""
    return text.translate(_T2S)


def group(word: str) -> bool:
    """True for words that stand for several people or for the storyteller (never one speaker)."""
    return (
        word in GROUP_WORDS
        or word in STORYTELLER
        or bool(_GROUP_SHAPE.search(word))
        and len(word) <= 4
    )


@lru_cache(maxsize=1)
def _tags() -> dict[str, str]:
    import logging

    import jieba  # type: ignore[import-untyped]
    import jieba.posseg  # type: ignore[import-untyped]

    jieba.setLogLevel(logging.WARNING)
    return jieba.posseg.dt.word_tag_tab


def person_tag(word: str) -> str | None:
    """jieba's tag for ``word`` (``nr`` …) when its dictionary lists it as a person's name."""
    tag = _tags().get(word)
    return tag if tag in _PERSON_TAGS else None


@lru_cache(maxsize=1)
def _tokenizer():  # noqa: ANN202 - jieba's Tokenizer
    import logging

    import jieba  # type: ignore[import-untyped]

    jieba.setLogLevel(logging.WARNING)
    jieba.initialize()
    return jieba.dt


def first_word(clause: str) -> str | None:
    """The first word of ``clause`` as jieba segments it (its HMM finds names it does not list)."""
    for word in _tokenizer().cut(clause, HMM=True):
        return word
    return None


def cut_words(text: str) -> list[str]:
    """``text`` cut into jieba's dictionary words (no guessing of unknown words)."""
    return list(_tokenizer().cut(text, HMM=False))


def dictionary_tag(word: str) -> str | None:
    """jieba's part-of-speech tag for ``word``; None for a word its dictionary does not hold."""
    return _tags().get(word)


def common_noun(word: str) -> bool:
    """True when jieba's dictionary lists ``word`` as a common noun (掌柜, 差人, 秀才)."""
    return _tags().get(word) == "n"


def demonstrated(text: str, word: str) -> float:
    """Share of ``word``'s mentions led by a demonstrative, a count or a possessor
    (那掌柜, 一个差人, 他母亲): roles and relations are, names seldom are."""
    total = text.count(word)
    if not total:
        return 0.0
    led = len(re.findall(rf"(?:那|这|个|位|的|他|她|我|你|伊){re.escape(word)}", text))
    return led / total


def roles(names: set[str], text: str, titled: Callable[[str], str | None]) -> dict[str, str | None]:
    """What bare roles and titles stand for in this book: a name, or None (nobody in particular).

    A title (太太, 公子, 秀才) stands for the cast member whose name ends with it (赵秀才) when that
    one bears it nine times in ten, and for nobody when several share it (三公子 / 四公子). A role
    (船家, 老者) or a common noun the text leads with a demonstrative or a possessor (那掌柜,
    他母亲) is nobody in particular; a title no cast name ends with (老太太) is one person's name.
    """
    out: dict[str, str | None] = {}
    for word in names | ROLE_WORDS:
        known, meaning = role(word, names, text, titled)
        if known:
            out[word] = meaning
    return out


def role(
    word: str, names: set[str], text: str, titled: Callable[[str], str | None]
) -> tuple[bool, str | None]:
    """``(True, name or None)`` when ``word`` is a group, role or title (see :func:`roles`)."""
    if group(word):
        return True, None
    longer = sorted(
        (
            n
            for n in names
            if n != word and n.endswith(word) and not group(n) and n not in ROLE_WORDS
        ),
        key=text.count,
        reverse=True,
    )
    title = bool(titled(word) or common_noun(word) or word in ROLE_WORDS)
    if longer and title and text.count(longer[0]) >= 0.85 * sum(text.count(n) for n in longer):
        return True, longer[0]  # 公子 → 安公子, who bears that title 9 times in 10
    if longer and title:
        return True, None
    if word in ROLE_WORDS or common_noun(word) and demonstrated(text, word) >= 0.08:
        return True, None  # 那掌柜 / 他母亲: a role or a relation, someone different each time
    return False, None
