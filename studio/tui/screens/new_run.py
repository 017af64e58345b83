"""Provides NewRunDialog: pick the base model and preset, edit hyper-parameters, start a run.

The form opens with the settings the run would get from studio.toml and the preset (the same
rule as ``persona-studio train``); every value in it is passed to the run as an override, so
what the form shows is what the run uses.
"""

from __future__ import annotations

from typing import Any

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Footer, Input, Label, Select

from studio import settings
from studio.api import BoolOption, ChoiceOption, FloatOption, IntOption, ModelSpec, Option
from studio.tui.screens.dialogs import DIALOG_CSS
from studio.tui.widgets.option_form import OptionForm


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


def effective_settings(config: Any, preset: Any) -> dict[str, Any]:
    """What a run gets before the form changes anything (:func:`studio.settings.resolve`)."""
    return settings.resolve(config.written_train(), preset.settings if preset is not None else None)


def hyper_options() -> list[Option]:
    """The form's fields, one per declared setting shown on the form, in section order."""
    out: list[Option] = []
    for item in settings.SETTINGS.values():
        if not item.form:
            continue
        if item.choices:
            out.append(ChoiceOption(item.name, item.default, item.doc, choices=item.choices))
        elif item.kind is bool:
            out.append(BoolOption(item.name, item.default, item.doc))
        elif item.kind is int:
            out.append(IntOption(item.name, item.default, item.doc))
        else:
            out.append(FloatOption(item.name, item.default, item.doc))
    return out


def read_form(raw: dict[str, Any]) -> dict[str, Any]:
    """The form's fields as checked settings (each by its declared rule, then across fields).

    Raises:
        ValueError: one line per field that breaks its setting's rule.
    """
    values: dict[str, Any] = {}
    problems: list[str] = []
    for name, value in raw.items():
        try:
            values[name] = settings.SETTINGS[name].parse(str(value))
        except ValueError as exc:
            problems.append(str(exc))
    bad = None if problems else settings.check(values)
    if bad:
        problems.append(f"{bad[0]}: expected {bad[1]}, got {values[bad[0]]!r}")
    if problems:
        raise ValueError("\n".join(problems))
    return values


class NewRunDialog(ModalScreen["dict[str, Any] | None"]):
    """Settings of a new training run; ctrl+s or Start launches it."""

    DEFAULT_CSS = (
        DIALOG_CSS.replace("{name}", "NewRunDialog")
        + """
    NewRunDialog > Vertical { width: 100; height: 100%; max-height: 40; }
    NewRunDialog .dialog-title { margin-bottom: 0; }
    NewRunDialog .run-row { height: 1; margin-bottom: 0; }
    NewRunDialog .run-row Label { width: 18; color: $text-muted; }
    NewRunDialog .run-row Input, NewRunDialog .run-row Select { width: 1fr; margin: 0; }
    NewRunDialog OptionForm { height: 1fr; max-height: 100%; margin-top: 1; }
    NewRunDialog OptionForm .option-name { width: 23; }
    NewRunDialog .dialog-buttons { margin-top: 0; }
    """
    )
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
        presets = [
            (f"{p.name} — {p.description}" if p.description else p.name, p.name)
            for p in getattr(adapter, "presets", ())
        ]
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
        values = effective_settings(self.ws.config, self._preset(model_key, preset_name))
        with Vertical():
            yield Label("New training run", classes="dialog-title")
            with Horizontal(classes="run-row"):
                yield Label("run name")
                yield Input("", placeholder="empty: run-<date>-<time>", id="run-name", compact=True)
            with Horizontal(classes="run-row"):
                yield Label("base model")
                yield Select(
                    choices, value=model_key, allow_blank=False, id="run-model", compact=True
                )
            with Horizontal(classes="run-row"):
                yield Label("preset")
                yield Select(
                    presets, value=preset_name, allow_blank=False, id="run-preset", compact=True
                )
            yield OptionForm(hyper_options(), values, id="run-form")
            yield Label(
                "ctrl+s start · esc cancel · tab next field · the run outlives the studio",
                classes="dialog-note",
            )
            with Horizontal(classes="dialog-buttons"):
                yield Button("Cancel", id="cancel", compact=True)
                yield Button("Start", id="start", variant="primary", compact=True)
        yield Footer()

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
        preset = self._preset(
            str(self.query_one("#run-model", Select).value), str(event.value or "")
        )
        if preset is None:
            return
        values = effective_settings(self.ws.config, preset)
        written = self.ws.config.written.get("train", set())
        for key in preset.settings:
            if key not in values or key in written:  # what the user wrote beats a preset
                continue
            for widget in self.query(f"#opt-{key}"):
                widget.value = values[key] if isinstance(values[key], bool) else str(values[key])

    @on(Button.Pressed, "#start")
    def action_start(self) -> None:
        """Validate the form and hand the settings back."""
        try:
            overrides = read_form(self.query_one(OptionForm).raw_values())
        except ValueError as exc:
            self.notify(str(exc), title="Check the settings", severity="error")
            return
        source, name = str(self.query_one("#run-model", Select).value).split("|", 1)
        self.dismiss(
            {
                "run_id": self.query_one("#run-name", Input).value.strip(),
                "model_name": name,
                "model_source": source,
                "preset": str(self.query_one("#run-preset", Select).value or ""),
                "overrides": overrides,
            }
        )

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        """Close without starting."""
        self.dismiss(None)
