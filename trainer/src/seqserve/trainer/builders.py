"""The eight Keras models, layer for layer as docs/models.md specifies.

Each builder returns a compiled training model. Layers that export re-wires into inference
graphs (encoder, decoder step, recall step) carry fixed names so ``graphs`` can find them.
"""

from __future__ import annotations

import keras
from keras import layers

from seqserve.trainer import datasets as ds

# Batches run per call into the compiled training step: the models are small, so the
# per-call overhead of Keras is a large share of the time (about a third for reverse).
STEPS = 16


def _compile(
    model: keras.Model, learning_rate: float, loss: str, metrics: tuple[str, ...] = ("accuracy",)
) -> None:
    """Adam (default settings but the learning rate) and the model's loss."""
    optimizer = keras.optimizers.Adam(learning_rate=learning_rate)
    model.compile(optimizer, loss, metrics=list(metrics), steps_per_execution=STEPS)


def build_echo_vanilla(learning_rate: float) -> keras.Model:
    """LSTM(25) -> Dense(10, softmax): 3,860 parameters."""
    x = keras.Input((ds.VANILLA_LENGTH, ds.VANILLA_CARDINALITY))
    h = layers.LSTM(25)(x)
    y = layers.Dense(ds.VANILLA_CARDINALITY, activation="softmax")(h)
    model = keras.Model(x, y, name="echo_vanilla")
    _compile(model, learning_rate, "categorical_crossentropy")
    return model


def build_echo_whole(learning_rate: float) -> keras.Model:
    """LSTM(20, return_sequences) -> TimeDistributed(Dense(100, softmax))."""
    x = keras.Input((ds.ECHO_WINDOW, ds.ECHO_CARDINALITY))
    h = layers.LSTM(20, return_sequences=True)(x)
    y = layers.TimeDistributed(layers.Dense(ds.ECHO_CARDINALITY, activation="softmax"))(h)
    model = keras.Model(x, y, name="echo_whole")
    _compile(model, learning_rate, "categorical_crossentropy")
    return model


def build_echo_partial(learning_rate: float) -> keras.Model:
    """LSTM(150) -> RepeatVector(2) -> LSTM(150, return_sequences) -> TD(Dense(100, softmax))."""
    x = keras.Input((ds.ECHO_WINDOW, ds.ECHO_CARDINALITY))
    h = layers.LSTM(150)(x)
    h = layers.RepeatVector(ds.ECHO_PARTIAL_OUT)(h)
    h = layers.LSTM(150, return_sequences=True)(h)
    y = layers.TimeDistributed(layers.Dense(ds.ECHO_CARDINALITY, activation="softmax"))(h)
    model = keras.Model(x, y, name="echo_partial")
    _compile(model, learning_rate, "categorical_crossentropy")
    return model


def build_sum_regression(learning_rate: float) -> keras.Model:
    """LSTM(10) -> Dense(1) over the 2 scaled terms as a sequence; mean squared error."""
    x = keras.Input((ds.SUM_TERMS, 1))
    y = layers.Dense(1)(layers.LSTM(10)(x))
    model = keras.Model(x, y, name="sum_regression")
    _compile(model, learning_rate, "mean_squared_error", metrics=())
    return model


def build_sum_mlp(learning_rate: float) -> keras.Model:
    """Dense(4) -> Dense(2) -> Dense(1), all linear; mean squared error."""
    x = keras.Input((ds.SUM_TERMS,))
    y = layers.Dense(1)(layers.Dense(2)(layers.Dense(4)(x)))
    model = keras.Model(x, y, name="sum_mlp")
    _compile(model, learning_rate, "mean_squared_error", metrics=())
    return model


def build_addition(learning_rate: float) -> keras.Model:
    """LSTM(100) -> RepeatVector(2) -> LSTM(50, return_sequences) -> TD(Dense(12, softmax))."""
    cardinality = len(ds.ADD_ALPHABET)
    x = keras.Input((ds.ADD_IN_LENGTH, cardinality))
    h = layers.LSTM(100)(x)
    h = layers.RepeatVector(ds.ADD_OUT_LENGTH)(h)
    h = layers.LSTM(50, return_sequences=True)(h)
    y = layers.TimeDistributed(layers.Dense(cardinality, activation="softmax"))(h)
    model = keras.Model(x, y, name="addition")
    _compile(model, learning_rate, "categorical_crossentropy")
    return model


def build_reverse(learning_rate: float) -> keras.Model:
    """The Keras lstm_seq2seq template with 128 units, trained with teacher forcing."""
    c = ds.REVERSE_CARDINALITY
    source = keras.Input((ds.REVERSE_SOURCE, c), name="source")
    shifted = keras.Input((ds.REVERSE_TARGET, c), name="decoder_input")
    _, h, state_c = layers.LSTM(128, return_state=True, name="encoder_lstm")(source)
    decoder = layers.LSTM(128, return_sequences=True, return_state=True, name="decoder_lstm")
    seq, _, _ = decoder(shifted, initial_state=[h, state_c])
    y = layers.Dense(c, activation="softmax", name="decoder_dense")(seq)
    model = keras.Model([source, shifted], y, name="reverse")
    _compile(model, learning_rate, "categorical_crossentropy")
    return model


def build_recall(learning_rate: float) -> keras.Model:
    """LSTM(20) -> Dense(5, sigmoid), binary cross-entropy, fitted over whole sequences.

    Running the LSTM over a sequence from a zero state is the tutorial's stateful
    step-by-step fit with a state reset per sequence; the step graph shares these weights.
    """
    c = ds.RECALL_CARDINALITY
    steps = ds.RECALL_SEQUENCES.shape[1] - 1
    x = keras.Input((steps, c))
    seq, _, _ = layers.LSTM(20, return_sequences=True, return_state=True, name="lstm")(x)
    y = layers.Dense(c, activation="sigmoid", name="dense")(seq)
    model = keras.Model(x, y, name="recall")
    _compile(model, learning_rate, "binary_crossentropy")
    return model
