"""Image (and any) classification: data sets, the user's own data, models, metrics."""
