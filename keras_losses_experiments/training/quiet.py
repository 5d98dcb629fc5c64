"""Importing TensorFlow without its start-up log on the terminal.

TensorFlow's native libraries log while they load, before Python can configure anything: on a CPU machine
"oneDNN custom operations are on", "Could not find cuda drivers", "failed call to cuInit" and absl's "All log
messages before absl::InitializeLog() ..." (`TF_CPP_MIN_LOG_LEVEL` silences some of them, not all).
`import_tensorflow()` sets the environment first, holds back what the native code writes to stderr while it
loads and initialises its devices, and passes on every line that is not one of those informational notices.
Set `TF_CPP_MIN_LOG_LEVEL=0` to see TensorFlow's log.
"""

import contextlib
import logging
import os
import re
import sys
import tempfile

#: Native start-up lines that are notices, not problems: absl's preamble, info ("I...") lines and the
#: CPU-only CUDA probes.
NOTICES = re.compile(
    r"^(WARNING: All log messages before absl::InitializeLog\(\) is called are written to STDERR"
    r"|I\d{4} .*"
    r"|E\d{4} .*(failed call to cuInit|Unable to register cu\w+ factory).*"
    r"|W\d{4} .*(TF-TRT Warning|Could not find cuda drivers).*"
    r"|To enable the following instructions: .*)$"
)


@contextlib.contextmanager
def native_stderr_filtered():
    """Collects what is written to file descriptor 2 (by C++ code too), then replays all but `NOTICES`."""
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile(mode="w+b") as capture:
        os.dup2(capture.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            capture.seek(0)
            kept = [line for line in capture.read().decode(errors="replace").splitlines() if not NOTICES.match(line)]
            if kept:
                print("\n".join(kept), file=sys.stderr)


def import_tensorflow():
    """Imports TensorFlow and Keras quietly and initialises the devices."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    with native_stderr_filtered():
        import keras  # noqa: F401  (imports TensorFlow under the TensorFlow backend)
        import tensorflow as tf

        tf.config.list_physical_devices()
    import absl.logging

    absl.logging.set_verbosity(absl.logging.ERROR)
    logging.getLogger("tensorflow").setLevel(logging.ERROR)  # retracing notices: one model per run is intended
