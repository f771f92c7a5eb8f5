"""What follows a new result: the triggers it fires (transitions, thresholds) and the sales queue order."""
