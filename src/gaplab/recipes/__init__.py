"""Reproductions: every experiment of the five papers as a named, runnable recipe.

>>> from gaplab.recipes import list_recipes, reproduce  # doctest: +SKIP
>>> reproduce("cone-effect", quick=True, out="runs/cone")  # doctest: +SKIP
"""

from ._base import (
    Claim,
    Recipe,
    RecipeContext,
    RunRecord,
    format_claims,
    get_recipe,
    list_recipes,
    register_recipe,
    reproduce,
    summary_verdict,
)

__all__ = [
    "Claim", "Recipe", "RecipeContext", "RunRecord", "format_claims", "get_recipe",
    "list_recipes", "register_recipe", "reproduce", "summary_verdict",
]
