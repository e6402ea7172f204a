"""Load YAML config files into pydantic models with errors that name file, line and field.

Every config model (venue, rules, notifiers, drills) derives from `Strict` and is loaded here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

M = TypeVar("M", bound=BaseModel)
PathKey = tuple[str | int, ...]


class Strict(BaseModel):
    """Config models refuse unknown keys, so a typo is an error rather than a silent default."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class ConfigError(ValueError):
    """A configuration file is missing, unreadable or invalid; the message says where and why."""

    def __init__(self, source: str, problems: list[str]) -> None:
        self.source = source
        self.problems = problems
        if len(problems) == 1:
            text = f"{source}: {problems[0]}"
        else:
            text = f"{source}: {len(problems)} problems:\n  " + "\n  ".join(problems)
        super().__init__(text)


class FieldError(ValueError):
    """Raised by a model validator about one field deeper in the model (e.g. a cross-reference)."""

    def __init__(self, loc: PathKey, message: str) -> None:
        self.loc = loc
        self.message = message
        super().__init__(message)


def _lines(node: yaml.Node, path: PathKey, out: dict[PathKey, int]) -> None:
    out[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            k = key.value if isinstance(key, yaml.ScalarNode) else str(key.value)
            _lines(value, (*path, k), out)
            out[(*path, k)] = key.start_mark.line + 1  # the key's line, not the value's
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _lines(item, (*path, i), out)


def _format_path(loc: PathKey) -> str:
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "(top level)"


def _line_for(loc: PathKey, lines: dict[PathKey, int]) -> int | None:
    for n in range(len(loc), -1, -1):
        if loc[:n] in lines:
            return lines[loc[:n]]
    return None


def locate(loc: PathKey, lines: dict[PathKey, int]) -> str:
    """'line N: field.path' for a field of a parsed file (as in its validation problems)."""
    line = _line_for(loc, lines)
    return f"{'line ' + str(line) + ': ' if line else ''}{_format_path(loc)}"


class _UniqueKeyLoader(yaml.SafeLoader):
    """A SafeLoader that refuses a key given twice in one mapping (YAML keeps the last)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None,
                    None,
                    f"key {key!r} is given twice (first on line {seen[key]})",
                    key_node.start_mark,
                )
            seen[key] = key_node.start_mark.line + 1
        return super().construct_mapping(node, deep=deep)


def parse_yaml(text: str, source: str) -> tuple[Any, dict[PathKey, int]]:
    """Parse YAML text; return the data and a map from field path to line number."""
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.load(text, Loader=_UniqueKeyLoader)  # noqa: S506 (a SafeLoader)
    except yaml.YAMLError as exc:
        # an unclosed bracket is noticed lines later: name the line where it was opened
        mark = getattr(exc, "problem_mark", None)
        context = getattr(exc, "context", None) or ""
        what = getattr(exc, "problem", None) or str(exc)
        if "flow" in context and getattr(exc, "context_mark", None) is not None:
            mark = exc.context_mark  # type: ignore[attr-defined]
            what = f"{what} ({context.removeprefix('while parsing ')} opened on this line)"
        where = f"line {mark.line + 1}: " if mark is not None else ""
        raise ConfigError(source, [f"{where}not valid YAML: {what}"]) from exc
    lines: dict[PathKey, int] = {}
    if node is not None:
        _lines(node, (), lines)
    return data, lines


def validation_problems(exc: ValidationError, lines: dict[PathKey, int] | None = None) -> list[str]:
    """Turn a pydantic ValidationError into 'line N: field.path: message' strings."""
    problems = []
    for err in exc.errors(include_url=False):
        loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and p.startswith("function-")))
        cause = (err.get("ctx") or {}).get("error")
        msg = err["msg"]
        if isinstance(cause, FieldError):
            loc, msg = (*loc, *cause.loc), cause.message
        line = _line_for(loc, lines) if lines else None
        where = f"line {line}: " if line else ""
        got = ""
        if err["type"] not in ("missing",) and not isinstance(err.get("input"), dict | list):
            got = f" (got {err.get('input')!r})"
        if isinstance(cause, FieldError):
            got = ""
        key = str(loc[-1]) if loc else ""
        if err["type"] == "extra_forbidden" and err.get("input") is None and set(key) & set(" )"):
            # `{name: Stewards (north, gates)}`: YAML splits a flow mapping at the comma
            got += "; a comma inside {...} starts a new key: put the value in quotes"
        problems.append(f"{where}{_format_path(loc)}: {msg}{got}")
    return problems


def first_problem(exc: ValidationError, what: str = "payload") -> str:
    """The first of pydantic's complaints about a message (not a file), as `field: message`;
    `what` names it when the complaint is about the whole of it."""
    first = exc.errors(include_url=False)[0]
    where = ".".join(str(p) for p in first["loc"]) or what
    return f"{where}: {str(first['msg']).removeprefix('Value error, ')}"


def load_model(model: type[M], path: str | Path) -> M:
    """Read a YAML file and validate it as `model`; raise ConfigError naming file, line, field."""
    source = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(source, [f"cannot read file: {exc.strerror or exc}"]) from exc
    return load_model_text(model, text, source)


def load_model_text(model: type[M], text: str, source: str) -> M:
    """Validate YAML text as `model`; errors name `source`."""
    data, lines = parse_yaml(text, source)
    if data is None:
        raise ConfigError(source, ["file is empty"])
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(source, validation_problems(exc, lines)) from exc
