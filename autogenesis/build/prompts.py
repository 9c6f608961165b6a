"""Prompt templates: jinja2 files in `prompts/`, one per agent role, rendered strictly.

A template `prompts/<role>.j2` defines a `system` block and a `user` block:

    {% block system %}You turn specs into requirements.{% endblock %}
    {% block user %}Spec:
    {{ spec }}{% endblock %}

`Prompts().messages("role", spec=...)` renders them into chat messages.
Rendering uses `StrictUndefined`: a variable nobody passed is a
`PromptError` naming the template, never an empty string in a prompt.
Templates are compiled when loaded, so a syntax error shows at start-up.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import jinja2

from autogenesis.config import check_name
from autogenesis.errors import PromptError

SUFFIX = ".j2"
BLOCKS = ("system", "user")


def default_prompts_dir() -> Path:
    """The packaged templates (autogenesis/_prompts in a wheel), else the repository's."""
    package = Path(__file__).parents[1]
    packaged = package / "_prompts"
    return packaged if packaged.is_dir() else package.parent / "prompts"


class Prompts:
    """The templates of one folder, compiled at load time."""

    def __init__(self, directory: Path | None = None) -> None:
        self.directory = directory or default_prompts_dir()
        self.env = jinja2.Environment(
            loader=jinja2.FileSystemLoader(self.directory), undefined=jinja2.StrictUndefined,
            autoescape=False, keep_trailing_newline=False, trim_blocks=True,
            lstrip_blocks=True,
        )
        self.templates: dict[str, jinja2.Template] = {}
        for path in sorted(self.directory.glob(f"*{SUFFIX}")):
            name = path.name.removesuffix(SUFFIX)
            try:
                template = self.env.get_template(path.name)
            except jinja2.TemplateSyntaxError as exc:
                raise PromptError(f"prompt {path.name} line {exc.lineno}: {exc.message}") from exc
            missing = [block for block in BLOCKS if block not in template.blocks]
            if missing:
                raise PromptError(f"prompt {path.name} has no {' or '.join(missing)} block")
            self.templates[name] = template

    def names(self) -> list[str]:
        return sorted(self.templates)

    def source(self, name: str) -> str:
        """The text of template `name`'s system block, as written (unrendered)."""
        check_name(name, "prompt name")
        text = (self.directory / f"{name}{SUFFIX}").read_text(encoding="utf-8")
        found = re.search(r"{%-?\s*block system\s*-?%}(.*?){%-?\s*endblock", text, re.S)
        return found.group(1).strip() if found else text

    def messages(self, name: str, /, **variables: Any) -> list[dict[str, str]]:
        """The system and user messages of template `name`, rendered with `variables`."""
        check_name(name, "prompt name")
        template = self.templates.get(name)
        if template is None:
            raise PromptError(f"no prompt {name!r} in {self.directory} "
                              f"(have: {', '.join(self.names()) or 'none'})")
        context = template.new_context(variables)
        rendered = []
        for block in BLOCKS:
            try:
                text = "".join(template.blocks[block](context)).strip()
            except jinja2.UndefinedError as exc:
                raise PromptError(f"prompt {name}{SUFFIX}, block {block}: {exc.message}") from exc
            rendered.append({"role": block, "content": text})
        return rendered
