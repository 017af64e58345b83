"""Provides OptionForm: a compact form rendered from a plugin's declared options.

Plugins declare options as data (``IntOption``, ``FloatOption``, ``BoolOption``,
``StrOption``, ``ChoiceOption`` from :mod:`studio.api`); this widget draws one line per option
and reads the values back through each option's own ``coerce``, so a form value and a
studio.toml value are validated the same way.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from textual.app import ComposeResult
from textual.containers import Horizontal, VerticalScroll
from textual.widgets import Checkbox, Input, Label, Select

from studio.api import BoolOption, ChoiceOption, FloatOption, IntOption, Option, StrOption


class OptionForm(VerticalScroll, can_focus=False):
    """One row per option: name, field, description (wrapped when the form is narrow)."""

    DEFAULT_CSS = """
    OptionForm { height: auto; max-height: 100%; }
    OptionForm > .option-row { height: auto; margin-bottom: 0; }
    OptionForm .option-name { color: $text-muted; }
    OptionForm .option-field { width: 10; height: 1; }
    OptionForm .option-help { width: 1fr; height: auto; color: $text-muted; text-style: italic; padding-left: 1; }
    OptionForm Input.option-field { border: none; padding: 0 1; background: $boost; }
    OptionForm Input.option-field:focus { background: $primary 40%; }
    OptionForm Input.option-field.-invalid { background: $error 35%; }
    OptionForm Checkbox.option-field { border: none; padding: 0; background: transparent; }
    OptionForm Checkbox.option-field:focus { background: $primary 40%; }
    OptionForm Select.option-field { border: none; }
    OptionForm Select.option-field > SelectCurrent { border: none; padding: 0 1; height: 1; background: $boost; }
    OptionForm Select.option-field:focus > SelectCurrent { background: $primary 40%; }
    OptionForm Select.option-field > SelectOverlay { width: 30; }
    """

    def __init__(
        self,
        options: Sequence[Option],
        values: Mapping[str, Any] | None = None,
        *,
        id: str | None = None,
        disabled: bool = False,
    ) -> None:
        super().__init__(id=id, disabled=disabled)
        self.options = list(options)
        self.initial = dict(values or {})

    def _field(self, option: Option) -> Any:
        value = self.initial.get(option.name, option.default)
        field_id = f"opt-{option.name}"
        if isinstance(option, BoolOption):
            return Checkbox("", bool(value), id=field_id, classes="option-field", compact=True)
        if isinstance(option, ChoiceOption):
            choices = [(choice, choice) for choice in option.choices]
            start = (
                value
                if value in option.choices
                else (option.choices[0] if option.choices else Select.NULL)
            )
            return Select(
                choices,
                value=start,
                allow_blank=False,
                id=field_id,
                classes="option-field",
                compact=True,
            )
        kind = (
            "integer"
            if isinstance(option, IntOption)
            else "number"
            if isinstance(option, FloatOption)
            else "text"
        )
        secret = isinstance(option, StrOption) and option.secret
        return Input(
            "" if value is None else str(value),
            type=kind,
            password=secret,
            id=field_id,
            classes="option-field",
            compact=True,
        )

    def compose(self) -> ComposeResult:
        name_width = max((len(option.name) for option in self.options), default=0) + 1
        for option in self.options:
            with Horizontal(classes="option-row"):
                name = Label(option.name, classes="option-name")
                name.styles.width = (
                    name_width  # as wide as the longest name: the rest is for the help
                )
                yield name
                yield self._field(option)
                yield Label(option.description, id=f"help-{option.name}", classes="option-help")

    def raw_values(self) -> dict[str, Any]:
        """What the fields hold now, uncoerced."""
        out: dict[str, Any] = {}
        for option in self.options:
            widget = self.query_one(f"#opt-{option.name}")
            out[option.name] = widget.value
        return out

    def values(self) -> dict[str, Any]:
        """The form's values, each coerced by its option.

        Raises:
            ValueError: every field that does not hold a valid value, one per line.
        """
        problems = []
        out: dict[str, Any] = {}
        for name, raw in self.raw_values().items():
            option = next(o for o in self.options if o.name == name)
            try:
                out[name] = option.coerce(raw)
            except ValueError as exc:
                problems.append(str(exc))
        if problems:
            raise ValueError("\n".join(problems))
        return out
