"""gaplab.mitigate (see the mission's part for mitigate)."""
