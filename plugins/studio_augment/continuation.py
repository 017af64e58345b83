"""Provides Continuation: real single-turn samples extended into short conversations.

For each chosen real exchange the LLM writes, turn by turn, the interlocutor's next line (as a
screenwriter who sees the conversation so far) and the character's reply (in character, with the
conversation as chat history). The real opening stays as it is; only the new turns are
generated, and only they pass through the duplicate and length filters.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from studio.api import AugmentContext, AugmentItem, ChoiceOption, IntOption, Sample, StudioError
from studio_augment import prompts
from studio_augment.base import PlannedStrategy, ask, label_names, language, rng_for, speaker_of


class Continuation(PlannedStrategy):
    name = "continue"
    description = "LLM: real single-turn exchanges continued into short conversations"
    needs_llm = True
    options = (
        IntOption("count", 20, "Real exchanges to continue", minimum=1, maximum=5000),
        IntOption("turns", 2, "New exchanges added to each", minimum=1, maximum=6),
        IntOption(
            "min_reply_chars",
            6,
            "Continue only exchanges whose real reply has at least this many characters",
            minimum=0,
            maximum=400,
        ),
        ChoiceOption(
            "language", "auto", "Language of the instructions", choices=("auto", "zh", "en")
        ),
    )

    def plan(self, context: AugmentContext, options: Mapping[str, Any]) -> list[AugmentItem]:
        bases = [
            s
            for s in context.samples
            if len(s.turns) == 2 and len(s.reply) >= options["min_reply_chars"]
        ]
        if not bases:
            raise StudioError(
                f"{self.name}: no real single-turn train sample with a reply of at least "
                f"{options['min_reply_chars']} characters; expected a dataset built in single mode"
            )
        lang = language(context, options["language"])
        rng = rng_for(context.seed, self.name, "bases")
        chosen = rng.sample(range(len(bases)), min(options["count"], len(bases)))
        return [
            AugmentItem(
                bases[i].id,
                {"base": bases[i].id, "speaker": speaker_of(bases[i]), "language": lang},
            )
            for i in chosen
        ]

    def run(
        self, context: AugmentContext, options: Mapping[str, Any], item: AugmentItem
    ) -> list[Sample]:
        lang = item.data["language"]
        base = next((s for s in context.samples if s.id == item.data["base"]), None)
        if base is None:
            raise StudioError(
                f"{self.name}: sample {item.data['base']} is no longer in the dataset"
            )
        speaker = item.data["speaker"] or prompts.SOMEONE[lang]
        names = label_names(context)
        turns = [(t.role, t.content) for t in base.turns]
        roleplay = prompts.ROLEPLAY[lang].format(
            persona=context.persona, character=context.character
        )
        for step in range(options["turns"]):
            said = [
                (speaker if role == "user" else context.character, text) for role, text in turns
            ]
            line = ask(
                context,
                [
                    {"role": "system", "content": prompts.WRITER_SYSTEM[lang]},
                    {
                        "role": "user",
                        "content": prompts.NEXT_LINE[lang].format(
                            persona=context.persona,
                            character=context.character,
                            speaker=speaker,
                            transcript=prompts.transcript(said, lang),
                        ),
                    },
                ],
                key=item.key,
                step=f"line{step}",
                names=names,
            )
            reply = ask(
                context,
                [
                    {"role": "system", "content": roleplay},
                    *({"role": role, "content": text} for role, text in turns),
                    {"role": "user", "content": line},
                ],
                key=item.key,
                step=f"reply{step}",
                names=names,
            )
            turns += [("user", line), ("assistant", reply)]
        return [
            self.sample(
                context,
                item.key,
                turns,
                options,
                examples=[base.id],
                base=base.id,
                speaker=item.data["speaker"],
                generated_from=len(base.turns),
            )
        ]
