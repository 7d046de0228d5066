"""Report sections shared by the experiments: rare events, the recommendation, and the run comparison."""
