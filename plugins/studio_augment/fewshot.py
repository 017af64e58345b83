"""Provides FewShotStyle: new exchanges in the character's voice on new situations of the story.

Each item picks a handful of the character's real exchanges (half of them with the chosen
interlocutor when there are enough), an interlocutor weighted by how often they talk to the
character, and a situation from the built-in list. The LLM then writes, in two requests, the
interlocutor's opening line for that situation and the character's reply, with the real
exchanges as few-shot chat turns so the reply copies the voice rather than the content.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from studio.api import AugmentContext, AugmentItem, ChoiceOption, IntOption, Sample, StudioError
from studio_augment import prompts
from studio_augment.base import (
    PlannedStrategy,
    ask,
    character_names,
    data_lines,
    example_messages,
    label_names,
    language,
    rng_for,
    speaker_of,
)


class FewShotStyle(PlannedStrategy):
    name = "fewshot"
    description = (
        "LLM: new exchanges on new situations, shown a handful of the character's real ones"
    )
    needs_llm = True
    options = (
        IntOption("count", 20, "Proposals to make", minimum=1, maximum=5000),
        IntOption("shots", 6, "Real exchanges shown with each request", minimum=1, maximum=20),
        IntOption(
            "interlocutors",
            12,
            "Pick who speaks to the character among this many most frequent",
            minimum=1,
            maximum=200,
        ),
        ChoiceOption(
            "language", "auto", "Language of the instructions", choices=("auto", "zh", "en")
        ),
    )

    def plan(self, context: AugmentContext, options: Mapping[str, Any]) -> list[AugmentItem]:
        if not context.samples:
            raise StudioError(
                f"{self.name}: the dataset has no real train-split samples to show as examples; "
                "expected a built dataset with the character's lines"
            )
        lang = language(context, options["language"])
        situations = [text for _, text in data_lines(f"situations_{lang}.txt")]
        own = character_names(context)
        people = [(name, count) for name, count in context.roster.items() if name not in own][
            : options["interlocutors"]
        ]
        by_speaker: dict[str, list[int]] = {}
        for index, sample in enumerate(context.samples):
            by_speaker.setdefault(speaker_of(sample), []).append(index)
        items = []
        for number in range(options["count"]):
            key = f"{number:05d}"
            rng = rng_for(context.seed, self.name, key)
            speaker = (
                rng.choices([p for p, _ in people], weights=[c for _, c in people])[0]
                if people
                else ""
            )
            shots = min(options["shots"], len(context.samples))
            theirs = by_speaker.get(speaker, [])
            chosen = rng.sample(theirs, min(len(theirs), shots // 2)) if speaker else []
            picked = set(chosen)
            while len(chosen) < shots:
                index = rng.randrange(len(context.samples))
                if index not in picked:
                    picked.add(index)
                    chosen.append(index)
            rng.shuffle(chosen)
            items.append(
                AugmentItem(
                    key,
                    {
                        "examples": [context.samples[i].id for i in chosen],
                        "speaker": speaker,
                        "situation": rng.choice(situations),
                        "language": lang,
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
        speaker = item.data["speaker"] or prompts.SOMEONE[lang]
        pairs = []
        for sample in shown:
            pairs += [
                (speaker_of(sample) or prompts.SOMEONE[lang], sample.prompt),
                (context.character, sample.reply),
            ]
        names = label_names(context)
        opening = ask(
            context,
            [
                {"role": "system", "content": prompts.WRITER_SYSTEM[lang]},
                {
                    "role": "user",
                    "content": prompts.NEW_LINE[lang].format(
                        persona=context.persona,
                        character=context.character,
                        speaker=speaker,
                        situation=item.data["situation"],
                        examples=prompts.transcript(pairs, lang),
                    ),
                },
            ],
            key=item.key,
            step="opening",
            names=names,
        )
        reply = ask(
            context,
            [
                {
                    "role": "system",
                    "content": prompts.ROLEPLAY[lang].format(
                        persona=context.persona, character=context.character
                    ),
                },
                *example_messages(shown),
                {"role": "user", "content": opening},
            ],
            key=item.key,
            step="reply",
            names=names,
        )
        return [
            self.sample(
                context,
                item.key,
                [("user", opening), ("assistant", reply)],
                options,
                examples=[s.id for s in shown],
                speaker=item.data["speaker"],
                situation=item.data["situation"],
            )
        ]
