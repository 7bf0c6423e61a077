"""gaplab.train (see the mission's part for train)."""
