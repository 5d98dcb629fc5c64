"""The encouraging-loss paper's vision experiments (Zhao et al., AAAI 2022) as presets: see `papers`."""

PRESETS = ()
