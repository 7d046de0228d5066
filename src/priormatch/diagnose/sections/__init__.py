"""One report section per experiment (tables, figures, verdict), plus the run-comparison section."""
