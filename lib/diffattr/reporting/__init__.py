"""Floor 4, reporting: the HTML report and its figures."""
