"""Provides the word tables of the Chinese speaker rules: pronouns, speech verbs, stop words,
titles that tell a name's gender, and the trie regex built from a word list."""

from __future__ import annotations

import re
from collections.abc import Iterable

from studio.api import is_han

PRONOUNS = {"我": "narrator", "她": "f", "他": "m", "伊": "f"}  # 伊: she, in early modern prose
_VERB_FINAL = set("道说问答笑叹喝骂喊叫嚷吟念唤劝求哭泣斥嗔啐应曰云想语言咐醒释充口断声句嘀咕嘟哼")
_SPEECH_INTRO = re.compile(
    r"(?:笑道|问道|说道|答道|叹道|喝道|冷笑|轻声|低声|柔声|沉声|笑|道|说|问|答|叹|喝|骂|喊|叫|唤|劝|泣|斥|嗔|啐|应|曰|想)"
    r"[：:∶﹕，,]?[ 　]*[“「『\"]"
)
_COLONS = "：:∶﹕"
# “…”秀才说。 / “…，”他说，“…”: a short tag right after a closing mark
_SPEECH_TAG = re.compile(
    r"[”」』\"][ 　]*([^，。！？!?,；;：:“”「」『』\"\n]{1,10}?)"
    r"(?:笑道|问道|说道|答道|道|说|问|答|叹|喝|骂|喊|叫|嚷)[，。,.！!？?]"
)
_SENTENCE_SPLIT = re.compile(r"[。！？!?；;…\n]")
_OBJECT_BEFORE = set(
    "向对朝跟和与同替给把被让令叫唤请问看望瞧盯拉握扶抱推见听随陪带冲往为自从由比像似将等着了过搀拦打"
    "在于上住到起"
)
_BEFORE_SUBJECT_PRONOUN = set("忽然便就却才又也这那时后此但而只正且倒竟遂乃即终仍还都已再先")
_SUBJECT_AFTER_SEE = (
    "只见",
    "但见",
    "却见",
    "忽见",
    "又见",
    "就见",
    "便见",
    "只听",
    "但听",
    "忽听",
    "却听",
    "又听",
    "便听",
    "就听",
    "正见",
    "只听得",
    "听得",
    "因听",
    "忽听得",
    "又听得",
)
_STOP_FIRST = set(
    "的得地着句我你他她它这那只便又也却都就一不因所于如若当还再才已正将把被让对向和与同跟在从说道笑问想看听见了"
    "心口手脸眼头声话有没是然但可而虽此忽突随连急赶轻微淡低含半良许片几何怎什么些每各其并及或"
    "些个两三四五六七八九十上下中前后里外左右大小多少好很最更太真实仍依终竟"
)
_STOP_WORDS = {
    "小主",
    "娘娘",
    "姑娘",
    "公公",
    "大人",
    "奴婢",
    "奴才",
    "臣妾",
    "嫔妾",
    "本宫",
    "哀家",
    "朕",
    "众人",
    "大家",
    "皇上",
    "皇后",
    "太后",
    "皇帝",
}  # kept as names, but not learnt as stems of longer ones
_BAD_LAST = set(
    "笑道说问叹低轻含忙又也便却只才不一的看听见向对和与着了地得终竟仍更已正将把被让方"
    "下住开起来去到在过我你他她边旁然头身手首膝嘴脸眼泪还就要欲个毕回抱指嚷"
)
_VERBISH = set("走来去过看说笑道问叹站坐跪起伸拉握抬低转回进出望听见想拍摇点扶")
_NOT_NAMES = {
    "自己",
    "二人",
    "两人",
    "三人",
    "众人们",
    "大家",
    "彼此",
    "对方",
    "旁人",
    "别人",
    "有人",
    "此人",
    "那人",
    "这人",
    "众位",
    "诸位",
    "一人",
    "一个",
    "那个",
    "这个",
    "了一声",
    "旁边",
    "身后",
    "气氛",
    "语气",
    "神色",
    "目光",
    "声音",
    "心里",
    "心中",
    "嘴里",
    "口中",
    "眼中",
    "脸上",
}
_MANNER = {
    "齐声",
    "怜惜",
    "无奈",
    "关切",
    "沉稳",
    "惊喜",
    "亲切",
    "呵斥",
    "倔强",
    "温柔",
    "安静",
    "平静",
    "淡然",
    "冷然",
    "郑重",
    "恭谨",
    "恭敬",
    "认真",
    "疑惑",
    "诧异",
    "惊讶",
    "惊异",
    "好奇",
    "得意",
    "委屈",
    "愤然",
    "愤怒",
    "欣然",
    "欣喜",
    "感激",
    "感慨",
    "坚定",
    "犹豫",
    "迟疑",
    "沉吟",
    "温和",
    "和蔼",
    "严肃",
    "冷淡",
    "冷静",
    "沉静",
    "轻快",
    "爽朗",
    "不安",
    "焦急",
    "着急",
    "担忧",
    "忧心",
    "伤感",
    "悲伤",
    "哽咽",
    "黯然",
    "怅然",
    "温言",
    "柔声",
    "厉声",
    "低声",
    "轻声",
    "高声",
    "大声",
    "朗声",
    "沉声",
    "冷笑",
    "微笑",
    "苦笑",
    "含笑",
}
_OBJECT_MARKERS = set("向对和与跟同给把朝替陪随见叫唤请问让令被")
_PLURALS = {"我们", "我們", "他们", "他們", "她们", "她們", "伊们", "大家"}
_FEMALE_TITLES = (
    "妃",
    "嫔",
    "后",
    "娘",
    "姐",
    "妹",
    "主",
    "贵人",
    "常在",
    "答应",
    "嬷嬷",
    "嬷",
    "姑",
    "女",
    "婢",
    "夫人",
    "昭仪",
    "芳仪",
    "淑仪",
    "德仪",
    "婕妤",
    "容华",
    "良媛",
    "才人",
    "采女",
    "美人",
    "娘子",
    "姥姥",
    "太太",
    "奶奶",
    "姨",
    "嫂",
    "妈",
    "母",
    "婆",
    "小姐",
    "格格",
    "公主",
    "宫人",
    "丫头",
    "丫鬟",
)
_MALE_TITLES = (
    "王",
    "帝",
    "皇上",
    "爷",
    "公公",
    "太医",
    "大人",
    "哥",
    "弟",
    "公子",
    "老爷",
    "先生",
    "将军",
    "父",
    "叔",
    "伯",
    "舅",
    "侍卫",
    "太监",
    "少爷",
    "相公",
    "大夫",
    "皇子",
    "阿哥",
    "道人",
    "和尚",
    "知县",
)
_MAX_NAME = 4
_NUMBER_FIRST = set("一二三四五六七八九十")


def trie_pattern(words: Iterable[str], suffix: str = "") -> str:
    """A regex source matching any of ``words``, longest first, built as a trie (fast to scan)."""
    trie: dict[str, dict] = {}
    for word in words:
        node = trie
        for ch in word:
            node = node.setdefault(ch, {})
        node[""] = {}

    def build(node: dict[str, dict]) -> str:
        branches = [re.escape(ch) + build(sub) for ch, sub in sorted(node.items()) if ch]
        if not branches:
            return ""
        body = branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"
        return f"(?:{body})?" if "" in node else body

    source = build(trie)
    return f"(?:{source}){suffix}" if source else "(?!)"


# a clause start that is a verb phrase, not a person: an aspect particle after its first
# character (吃了一会, 望着公子, 吓了一跳), or a first character that is a verb or adverb and no
# surname (忙陪, 指宝玉, 打个, 自心里, 次早, 慌得, 谁想, 嘴里还, 命人); 方, 待 and 刚 stay out
# (方太太, 待书, 刚弼)
_ASPECT = set("了着")
_VERB_FIRST = set("忙即次自打指望隔拉倒落跪坐抬叉愁吓嚇吃喫踌躊答过忍慌谁唱旁赐直开嘴命姓")


def verb_phrase(word: str) -> bool:
    """Whether a clause start read as a name is a verb phrase (in the Simplified view)."""
    return bool(word) and (word[0] in _VERB_FIRST or any(ch in _ASPECT for ch in word[1:]))


# what joins the parts of a transliterated name (艾辛格.斯坦顿, 玛丽·布朗, 唐纳德•史密斯)
NAME_SEPARATORS = "·•.．・‧"


def _name_char(ch: str) -> bool:
    return is_han(ch) or "Ａ" <= ch <= "Ｚ" or ch in NAME_SEPARATORS


def gender_of_title(name: str) -> str | None:
    """Gender implied by a title at the end of a name (华妃 → f, 果郡王 → m)."""
    if name.endswith(_FEMALE_TITLES):
        return "f"
    if name.endswith(_MALE_TITLES):
        return "m"
    return None
