"""Provides EverydayRetrieval: everyday questions answered in character, shown similar real lines.

The questions come from a built-in list written for this project (Chinese and English) or from
a file of the user's (one question per line, ``#`` comments). For each question the character's
most similar real exchanges are retrieved with BM25 over characters and character bigrams (no
model download) and shown to the LLM as few-shot turns, so the persona also answers things the
script never covered, in its own voice.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from studio.api import (
    BM25,
    AugmentContext,
    AugmentItem,
    ChoiceOption,
    InputError,
    IntOption,
    Sample,
    StrOption,
    StudioError,
    stable_id,
)
from studio_augment import prompts
from studio_augment.base import (
    PlannedStrategy,
    ask,
    data_lines,
    example_messages,
    label_names,
    language,
    rng_for,
)

MAX_QUESTION_CHARS = 300


def read_questions(path: Path) -> list[tuple[int, str]]:
    """``(line, question)`` from a user's file: one per line, blank lines and ``#`` comments skipped.

    Raises:
        InputError: unreadable, empty, or a line too long to be one question.
    """
    from studio.api import read_text_file as read_source

    source = read_source(path)
    out = []
    for number, line in enumerate(source.text.split("\n"), start=1):
        text = line.strip()
        if not text or text.startswith("#"):
            continue
        if len(text) > MAX_QUESTION_CHARS:
            raise InputError(
                path,
                f"a line of {len(text)} characters; expected one question per line "
                f"(at most {MAX_QUESTION_CHARS} characters)",
                number,
            )
        out.append((number, text))
    if not out:
        raise InputError(path, "no questions in this file; expected one question per line")
    return out


class EverydayRetrieval(PlannedStrategy):
    name = "everyday"
    description = (
        "LLM: everyday questions answered in character, shown the most similar real lines (BM25)"
    )
    needs_llm = True
    options = (
        IntOption(
            "count",
            40,
            "Questions to answer (0: every question of the list)",
            minimum=0,
            maximum=100000,
        ),
        IntOption(
            "shots",
            4,
            "Most similar real exchanges shown with each question",
            minimum=1,
            maximum=20,
        ),
        StrOption(
            "prompts_file",
            "",
            "Your own questions, one per line (a file inside the workspace); "
            "empty uses the built-in list",
        ),
        ChoiceOption("language", "auto", "Built-in list to use", choices=("auto", "zh", "en")),
    )

    def _questions(
        self, context: AugmentContext, options: Mapping[str, Any], lang: str
    ) -> list[tuple[str, str]]:
        if not options["prompts_file"]:
            return [(f"builtin:{lang}:{n}", text) for n, text in data_lines(f"everyday_{lang}.txt")]
        root = (context.workspace or Path.cwd()).resolve()
        path = (root / options["prompts_file"]).resolve()
        if path != root and root not in path.parents:
            raise StudioError(
                f"{self.name}: prompts_file {options['prompts_file']!r} is outside the workspace {root}; "
                "expected a file inside it"
            )
        if not path.is_file():
            raise InputError(path, "no such file; expected a text file of questions, one per line")
        shown = path.relative_to(root).as_posix()
        return [(f"{shown}:{n}", text) for n, text in read_questions(path)]

    def plan(self, context: AugmentContext, options: Mapping[str, Any]) -> list[AugmentItem]:
        if not context.samples:
            raise StudioError(
                f"{self.name}: the dataset has no real train-split samples to retrieve from; "
                "expected a built dataset with the character's lines"
            )
        lang = language(context, options["language"])
        questions = self._questions(context, options, lang)
        first: dict[str, tuple[str, str]] = {}
        for where, text in questions:
            first.setdefault(
                text, (where, text)
            )  # a repeated question counts once, where it first appears
        questions = list(first.values())
        if options["count"] and options["count"] < len(questions):
            rng = rng_for(context.seed, self.name, "questions")
            questions = sorted(rng.sample(questions, options["count"]), key=questions.index)
        index = BM25(
            [f"{s.prompt} {s.reply} {s.reply}" for s in context.samples]
        )  # the reply counts double
        shots = min(options["shots"], len(context.samples))
        items = []
        for where, question in questions:
            key = stable_id(self.name, question)[:12]
            ranked = index.top(question, shots)
            chosen = [i for i, _ in ranked]
            if (
                len(chosen) < shots
            ):  # too few share a term with the question: fill with seeded picks
                rng = rng_for(context.seed, self.name, key)
                rest = [
                    i
                    for i in rng.sample(
                        range(len(context.samples)), min(len(context.samples), 4 * shots)
                    )
                    if i not in chosen
                ]
                chosen += rest[: shots - len(chosen)]
            items.append(
                AugmentItem(
                    key,
                    {
                        "question": question,
                        "source": where,
                        "language": lang,
                        "examples": [context.samples[i].id for i in chosen],
                        "scores": [round(score, 3) for _, score in ranked],
                    },
                )
            )
        return items

    def run(
        self, context: AugmentContext, options: Mapping[str, Any], item: AugmentItem
    ) -> list[Sample]:
        lang = item.data["language"]
        by_id = {s.id: s for s in context.samples}
        shown = [by_id[i] for i in item.data["examples"] if i in by_id]
        # the most similar example goes last, nearest the question
        reply = ask(
            context,
            [
                {
                    "role": "system",
                    "content": prompts.ROLEPLAY[lang].format(
                        persona=context.persona, character=context.character
                    ),
                },
                *example_messages(list(reversed(shown))),
                {"role": "user", "content": item.data["question"]},
            ],
            key=item.key,
            step="reply",
            names=label_names(context),
        )
        return [
            self.sample(
                context,
                item.key,
                [("user", item.data["question"]), ("assistant", reply)],
                options,
                examples=[s.id for s in shown],
                question_source=item.data["source"],
                scores=item.data["scores"],
            )
        ]
