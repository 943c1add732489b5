"""One line shown in the Data tab (after loading posts) and the Train tab (before training): does the base
model fit the posts' language? (studio.evaluation.fit: loss per character and the knowledge probe per language)."""

from __future__ import annotations

import logging

from studio.config import default_base
from studio.errors import StudioError

log = logging.getLogger(__name__)


def fit_markdown(posts: list[dict] | None, base: str | None = None) -> str:
    """The language-fit message for the loaded posts and the base model (the default one when none is given);
    empty before posts are loaded. A model that cannot load is said in the line, not raised: training says why."""
    if not posts:
        return ""
    from studio.evaluation.fit import fit_for_base

    spec = (base or "").strip() or default_base()
    try:
        report = fit_for_base(spec, posts)
    except StudioError as exc:
        return f"**Language fit** ({spec}): not measured: {exc}"
    mark = "✅" if report["fits"] else "⚠"
    return f"{mark} **Language fit** ({spec}): {report['message']}"
