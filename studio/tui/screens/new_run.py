"""Provides NewRunDialog: pick the base model and preset, edit hyper-parameters, start a run.

The form opens with the settings the run would get from studio.toml and the preset (the same
rule as ``persona-studio train``); every value in it is passed to the run as an override, so
what the form shows is what the run uses.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Select

from studio.api import BoolOption, ChoiceOption, FloatOption, IntOption, ModelSpec, Option
from studio.tui.screens.dialogs import DIALOG_CSS
from studio.tui.widgets.option_form import OptionForm

# hyper-parameters on the form: (name, kind, extra) — descriptions come from studio.config
_FIELDS: tuple[tuple[str, type, dict[str, Any]], ...] = (
    ("epochs", FloatOption, {"minimum": 0.01}),
    ("max_steps", IntOption, {"minimum": 0}),
    ("lr", FloatOption, {"minimum": 1e-8, "maximum": 0.999}),
    ("lora_r", IntOption, {"minimum": 1}),
    ("lora_alpha", IntOption, {"minimum": 1}),
    ("lora_dropout", FloatOption, {"minimum": 0.0, "maximum": 0.9}),
    ("max_length", IntOption, {"minimum": 16}),
    ("tokens_per_batch", IntOption, {"minimum": 16}),
    ("warmup_steps", IntOption, {"minimum": 0}),
    ("eval_every", IntOption, {"minimum": 0}),
    ("save_every", IntOption, {"minimum": 0}),
    ("dtype", ChoiceOption, {"choices": ("auto", "bf16", "fp16", "fp32")}),
    ("gradient_checkpointing", BoolOption, {}),
    ("seed", IntOption, {"minimum": 0}),
)


def model_choices(ws: Any, adapters: dict[str, Any]) -> list[tuple[str, str]]:
    """(label, "source|name") for the configured model and each adapter's suggested model."""
    current = ws.config.model
    seen = {f"{current.source}|{current.name}"}
    out = [(f"{current.name} ({current.source}, studio.toml)", f"{current.source}|{current.name}")]
    for name, adapter in sorted(adapters.items()):
        model = getattr(adapter, "default_model", "")
        if not model:
            continue
        source = "tiny" if name.startswith("tiny") else "modelscope"
        key = f"{source}|{model}"
        if key not in seen:
            seen.add(key)
            out.append((f"{model} ({source})", key))
    return out


def effective_settings(train: Any, preset: Any) -> dict[str, Any]:
    """What a run gets: studio.toml [train], with the preset's values where the user kept the default."""
    values = dataclasses.asdict(train)
    defaults = dataclasses.asdict(type(train)())
    if preset is not None:
        for key, value in preset.settings.items():
            if key in values and values[key] == defaults.get(key):
                values[key] = value
    values.setdefault("max_steps", 0)
    return values


def hyper_options() -> list[Option]:
    """The form's options, documented from studio.config's field docstrings."""
    from studio.config import TrainConfig, field_docs

    docs = field_docs(TrainConfig)
    docs["max_steps"] = "Stop after this many steps (0: all epochs)."
    return [kind(name, None, docs.get(name, ""), **extra) for name, kind, extra in _FIELDS]


class NewRunDialog(ModalScreen["dict[str, Any] | None"]):
    """Settings of a new training run; ctrl+s or Start launches it."""

    DEFAULT_CSS = DIALOG_CSS.replace("{name}", "NewRunDialog") + """
    NewRunDialog > Vertical { width: 100; }
    NewRunDialog .run-row { height: 1; margin-bottom: 1; }
    NewRunDialog .run-row Label { width: 18; color: $text-muted; }
    NewRunDialog .run-row Input, NewRunDialog .run-row Select { width: 1fr; margin: 0; }
    NewRunDialog OptionForm { max-height: 14; }
    """
    BINDINGS = [
        Binding("escape", "cancel", "Cancel", id="new_run.cancel"),
        Binding("ctrl+s", "start", "Start", id="new_run.start"),
    ]

    def __init__(self, ws: Any, adapters: dict[str, Any]) -> None:
        super().__init__()
        self.ws = ws
        self.adapters = adapters

    def _adapter(self, key: str) -> Any:
        from studio.train.base_model import pick_adapter

        source, name = key.split("|", 1)
        try:
            return pick_adapter(ModelSpec(name=name, source=source), self.adapters)
        except Exception:
            return None

    def _presets(self, key: str) -> list[tuple[str, str]]:
        adapter = self._adapter(key)
        presets = [(f"{p.name} — {p.description}" if p.description else p.name, p.name)
                   for p in getattr(adapter, "presets", ())]
        return [("auto (by GPU memory)", ""), *presets]

    def _preset(self, key: str, name: str) -> Any:
        from studio.train.runner import pick_preset

        adapter = self._adapter(key)
        if adapter is None:
            return None
        try:
            return pick_preset(adapter, name)
        except Exception:
            return None

    def compose(self) -> ComposeResult:
        choices = model_choices(self.ws, self.adapters)
        model_key = choices[0][1]
        preset_name = self.ws.config.train.preset
        presets = self._presets(model_key)
        if preset_name not in [value for _, value in presets]:
            preset_name = ""
        values = effective_settings(self.ws.config.train, self._preset(model_key, preset_name))
        with Vertical():
            yield Label("New training run", classes="dialog-title")
            with Horizontal(classes="run-row"):
                yield Label("run name")
                yield Input("", placeholder="empty: run-<date>-<time>", id="run-name", compact=True)
            with Horizontal(classes="run-row"):
                yield Label("base model")
                yield Select(choices, value=model_key, allow_blank=False, id="run-model", compact=True)
            with Horizontal(classes="run-row"):
                yield Label("preset")
                yield Select(presets, value=preset_name, allow_blank=False, id="run-preset", compact=True)
            yield OptionForm(hyper_options(), values, id="run-form")
            yield Label("ctrl+s starts · escape cancels · the run keeps going when the studio closes",
                        classes="dialog-note")
            with Horizontal(classes="dialog-buttons"):
                yield Button("Cancel", id="cancel")
                yield Button("Start", id="start", variant="primary")

    def on_mount(self) -> None:
        self.query_one("#run-name", Input).focus()

    @on(Select.Changed, "#run-model")
    def _model_changed(self, event: Select.Changed) -> None:
        """Offer the presets of the newly picked model's adapter."""
        presets = self._presets(str(event.value))
        select = self.query_one("#run-preset", Select)
        select.set_options(presets)
        select.value = ""

    @on(Select.Changed, "#run-preset")
    def _preset_changed(self, event: Select.Changed) -> None:
        """Fill in the values the picked preset sets."""
        preset = self._preset(str(self.query_one("#run-model", Select).value), str(event.value or ""))
        if preset is None:
            return
        values = effective_settings(self.ws.config.train, preset)
        for key in preset.settings:
            if key not in values:
                continue
            for widget in self.query(f"#opt-{key}"):
                widget.value = values[key] if isinstance(values[key], bool) else str(values[key])

    @on(Button.Pressed, "#start")
    def action_start(self) -> None:
        """Validate the form and hand the settings back."""
        try:
            overrides = self.query_one(OptionForm).values()
        except ValueError as exc:
            self.notify(str(exc), title="Check the settings", severity="error")
            return
        if overrides["tokens_per_batch"] < overrides["max_length"]:
            self.notify("tokens_per_batch must be at least max_length", severity="error")
            return
        source, name = str(self.query_one("#run-model", Select).value).split("|", 1)
        self.dismiss({
            "run_id": self.query_one("#run-name", Input).value.strip(),
            "model_name": name, "model_source": source,
            "preset": str(self.query_one("#run-preset", Select).value or ""),
            "overrides": overrides,
        })

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        """Close without starting."""
        self.dismiss(None)
