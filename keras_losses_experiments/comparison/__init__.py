"""The loss comparison of `keras-losses compare`: settings, tasks, runs, verdict, reports."""
