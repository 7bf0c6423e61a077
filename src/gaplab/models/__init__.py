"""gaplab.models (see the mission's part for models)."""
