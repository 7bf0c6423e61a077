"""gaplab.recipes (see the mission's part for recipes)."""
