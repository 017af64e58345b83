"""Provides the instructions the strategies send to the LLM, in Chinese and English.

Each template is formatted with ``str.format``; the strategy picks the language of the
character's corpus. Replies are asked for as plain text (one message, no labels), which every
model can give and which :func:`studio.api.clean_message` reads tolerantly.
"""

from __future__ import annotations

ROLEPLAY = {
    "zh": (
        "{persona}\n\n"
        "你就是{character}。下面的对话里，对方在和你说话。请完全以{character}的身份、语气和用词回答，"
        "像之前的回答那样自然简洁；不要说明你在扮演角色，不要提到AI或模型，"
        "只输出{character}说的话，不加引号、说话人或解释。"
    ),
    "en": (
        "{persona}\n\n"
        "You are {character}. In the conversation below someone is speaking to you. Answer entirely as "
        "{character}, in {character}'s voice and words, as naturally and briefly as in the earlier replies; "
        "never say you are playing a role or mention AI or models. Write only what {character} says: "
        "no quotes, no speaker name, no explanation."
    ),
}

WRITER_SYSTEM = {
    "zh": "你是一位熟悉这部作品的编剧，擅长写贴合人物身份和时代的对白。只输出要求的那一句台词。",
    "en": "You are a screenwriter who knows this story well and writes dialogue true to each character and "
    "period. Output only the one line you are asked for.",
}

NEW_LINE = {
    "zh": (
        "人物设定：{persona}\n\n"
        "以下是{character}与他人的几段真实对白：\n{examples}\n\n"
        "请设想故事里一个新的情境：{situation}。\n"
        "写出{speaker}在这个情境中对{character}说的一句话（可以是提问、请求、试探或消息），"
        "符合{speaker}的身份和口吻。只输出这句话本身，不要加引号、说话人或解释。"
    ),
    "en": (
        "Character notes: {persona}\n\n"
        "Here are some real exchanges between {character} and others:\n{examples}\n\n"
        "Imagine a new situation in the story: {situation}.\n"
        "Write one line that {speaker} says to {character} in this situation (a question, a request, a probe "
        "or a piece of news), in {speaker}'s own voice. Output only that line: no quotes, no speaker name, "
        "no explanation."
    ),
}

NEXT_LINE = {
    "zh": (
        "人物设定：{persona}\n\n"
        "以下是{speaker}与{character}正在进行的对话：\n{transcript}\n\n"
        "请写出{speaker}接下来对{character}说的一句话，顺着对话自然地推进（追问、回应或转到相关的事），"
        "符合{speaker}的身份和口吻。只输出这句话本身，不要加引号、说话人或解释。"
    ),
    "en": (
        "Character notes: {persona}\n\n"
        "Here is a conversation between {speaker} and {character} in progress:\n{transcript}\n\n"
        "Write the next line {speaker} says to {character}, moving the conversation on naturally (a follow-up "
        "question, a reaction, or a related matter), in {speaker}'s own voice. Output only that line: no "
        "quotes, no speaker name, no explanation."
    ),
}

SOMEONE = {"zh": "对方", "en": "Someone"}
COLON = {"zh": "：", "en": ": "}


def transcript(pairs: list[tuple[str, str]], lang: str) -> str:
    """``speaker：text`` lines, one per message."""
    return "\n".join(f"{who}{COLON[lang]}{text}" for who, text in pairs)
