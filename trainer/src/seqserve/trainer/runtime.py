"""TensorFlow start-up for the trainer: quiet logs, thread counts and seeds.

Imported first by every module that needs TensorFlow, so the settings apply before TF starts.
"""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import keras
import tensorflow as tf

_configured = False


def configure(threads: int | None = None) -> None:
    """Use every core for one op at a time (the models are small and run one after another)."""
    global _configured
    if _configured:
        return
    threads = threads or os.cpu_count() or 1
    tf.config.threading.set_intra_op_parallelism_threads(threads)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    keras.utils.disable_interactive_logging()
    _configured = True


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and TensorFlow (Keras weight initialisers and dropout)."""
    keras.utils.set_random_seed(seed)


def framework() -> str:
    import tf2onnx

    return f"tensorflow {tf.__version__}, keras {keras.__version__}, tf2onnx {tf2onnx.__version__}"
