"""Provides the command palette entries: every screen and every main action, by name."""

from __future__ import annotations

from functools import partial

from textual.command import DiscoveryHit, Hit, Hits, Provider

# (title, help, mode, screen action or None for just going there)
COMMANDS: tuple[tuple[str, str, str, str | None], ...] = (
    ("Go to Home", "Workspace overview: corpus files, roster, model, datasets, runs", "home", None),
    ("Go to Corpus", "Inspect scenes and speakers; fix speakers, merge aliases", "corpus", None),
    ("Go to Dataset", "Curate samples: accept, reject, edit, undo", "dataset", None),
    ("Go to Augment", "Propose new samples with a strategy plugin", "augment", None),
    ("Go to Train", "Start, follow and stop training runs", "train", None),
    ("Go to Chat", "Chat with the character: base and adapter side by side", "chat", None),
    ("Build dataset", "Parse the corpus and (re)build the character's samples", "home", "build"),
    ("Reload workspace", "Re-read studio.toml, the corpus, datasets and runs", "home", "reload"),
    ("Assign speaker", "Set the speaker of the current line or marked lines", "corpus", "speaker"),
    ("Merge aliases", "Fold one speaker name into another (studio.toml)", "corpus", "alias"),
    ("Next parse warning", "Jump to the next line the parser could not classify", "corpus", "next_warning"),
    ("Search corpus", "Find text in the corpus", "corpus", "search"),
    ("Accept sample", "Accept the current sample(s)", "dataset", "decide('accept')"),
    ("Reject sample", "Reject the current sample(s)", "dataset", "decide('reject')"),
    ("Edit sample reply", "Edit the reply in place", "dataset", "edit"),
    ("Undo last decision", "Revert the last review decision", "dataset", "undo"),
    ("Filter samples", "Filter by status, source, length and text", "dataset", "filter"),
    ("Search samples", "Find text in prompts and replies", "dataset", "search"),
    ("Run augmenter", "Run the selected strategy with the form's options", "augment", "run"),
    ("Cancel augmenter", "Stop the running strategy; keep what it proposed", "augment", "cancel"),
    ("New training run", "Pick base model and preset, edit hyper-parameters, start", "train", "new_run"),
    ("Stop training run", "Stop the followed run (it saves a checkpoint first)", "train", "stop"),
    ("Follow another run", "Pick a run of this workspace to follow", "train", "pick_run"),
    ("Load chat model", "Load the picked run/checkpoint (and the base for A/B)", "chat", "load"),
    ("Toggle A/B chat", "Base and adapter side by side on the same prompt", "chat", "toggle_ab"),
    ("Save chat transcript", "Write the conversation to chats/", "chat", "save"),
    ("Clear chat", "Start a new conversation", "chat", "clear"),
    ("Help", "Every key binding", "", "help"),
)


class StudioCommands(Provider):
    """Screens and actions of the studio for the command palette."""

    def _callback(self, mode: str, action: str | None):
        app = self.app
        if not mode:
            return partial(app.run_action, action or "")
        if action is None:
            return partial(app.run_action, f"go('{mode}')")
        return partial(app.run_in_mode, mode, action)  # type: ignore[attr-defined]

    async def discover(self) -> Hits:
        for title, help_text, mode, action in COMMANDS:
            yield DiscoveryHit(title, self._callback(mode, action), help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for title, help_text, mode, action in COMMANDS:
            score = matcher.match(title)
            if score > 0:
                yield Hit(score, matcher.highlight(title), self._callback(mode, action), help=help_text)
