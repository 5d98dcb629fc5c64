"""The encouraging-loss paper's translation experiments (Zhao et al., AAAI 2022) as presets: see `papers`."""

PRESETS = ()
