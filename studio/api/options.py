"""Provides plugin options as data: plugins declare them, the TUI and CLI render them."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Option:
    """One user-settable option of a plugin.

    Attributes:
        name: key in studio.toml and on the command line (``--opt name=value``).
        default: value used when the user sets none.
        description: one line shown next to the field.
    """

    name: str
    default: Any
    description: str = ""

    def coerce(self, value: Any) -> Any:
        """Return ``value`` converted to this option's type, or raise ValueError."""
        return value


@dataclass(frozen=True)
class IntOption(Option):
    minimum: int | None = None
    maximum: int | None = None

    def coerce(self, value: Any) -> int:
        if isinstance(value, bool):
            raise ValueError(f"{self.name}: expected an integer, got {value!r}")
        try:
            number = int(value)
        except (TypeError, ValueError):
            raise ValueError(f"{self.name}: expected an integer, got {value!r}") from None
        if self.minimum is not None and number < self.minimum:
            raise ValueError(f"{self.name}: expected at least {self.minimum}, got {number}")
        if self.maximum is not None and number > self.maximum:
            raise ValueError(f"{self.name}: expected at most {self.maximum}, got {number}")
        return number


@dataclass(frozen=True)
class FloatOption(Option):
    minimum: float | None = None
    maximum: float | None = None

    def coerce(self, value: Any) -> float:
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise ValueError(f"{self.name}: expected a number, got {value!r}") from None
        if self.minimum is not None and number < self.minimum:
            raise ValueError(f"{self.name}: expected at least {self.minimum}, got {number}")
        if self.maximum is not None and number > self.maximum:
            raise ValueError(f"{self.name}: expected at most {self.maximum}, got {number}")
        return number


@dataclass(frozen=True)
class BoolOption(Option):
    def coerce(self, value: Any) -> bool:
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text in {"1", "true", "yes", "on"}:
            return True
        if text in {"0", "false", "no", "off"}:
            return False
        raise ValueError(f"{self.name}: expected true or false, got {value!r}")


@dataclass(frozen=True)
class StrOption(Option):
    secret: bool = False
    """A secret (an API key) is read from the environment and never written anywhere."""

    def coerce(self, value: Any) -> str:
        return "" if value is None else str(value)


@dataclass(frozen=True)
class PathOption(StrOption):
    """A file or folder the plugin reads or writes (a cache, a word list).

    Set in a workspace (studio.toml), a relative path is taken from the workspace folder and a
    path that leads outside it (``..``, an absolute path, a link) is refused before the plugin
    sees it; the plugin receives the resolved absolute path.
    """


@dataclass(frozen=True)
class ChoiceOption(Option):
    choices: tuple[str, ...] = ()

    def coerce(self, value: Any) -> str:
        if str(value) not in self.choices:
            raise ValueError(
                f"{self.name}: expected one of {', '.join(self.choices)}, got {value!r}"
            )
        return str(value)


def resolve_options(options: Sequence[Option], given: Mapping[str, Any] | None) -> dict[str, Any]:
    """Merge user values over defaults, coercing each; unknown names are an error.

    Raises:
        ValueError: a value has the wrong type or an unknown option name was given.
    """
    given = dict(given or {})
    known = {opt.name: opt for opt in options}
    unknown = sorted(set(given) - set(known))
    if unknown:
        raise ValueError(
            f"unknown option(s) {', '.join(unknown)}; known: {', '.join(known) or 'none'}"
        )
    return {
        name: opt.coerce(given[name]) if name in given else opt.default
        for name, opt in known.items()
    }
