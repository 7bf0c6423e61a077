"""gaplab.data (see the mission's part for data)."""
