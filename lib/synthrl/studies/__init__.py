"""One module per study: `run(preset, ...) -> pandas.DataFrame` of tidy results."""
