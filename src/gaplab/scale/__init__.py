"""gaplab.scale (see the mission's part for scale)."""
