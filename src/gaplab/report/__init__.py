"""gaplab.report (see the mission's part for report)."""
