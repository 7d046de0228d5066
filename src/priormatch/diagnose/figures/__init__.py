"""Report figures (matplotlib, Agg backend): each module draws one kind of figure to PNG bytes."""
