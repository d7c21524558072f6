"""model.summary(): the classic Keras text table, character for character."""

import pytest

from gdlib import backend, models, summary
from gdlib.layers import Dense, Dropout

EXPECTED = """\
Model: "sequential"
_________________________________________________________________
 Layer (type)                Output Shape              Param #   
=================================================================
 dense (Dense)               (None, 512)               33280     
                                                                 
 dense_1 (Dense)             (None, 10)                5130      
                                                                 
=================================================================
Total params: 38410 (150.04 KB)
Trainable params: 38410 (150.04 KB)
Non-trainable params: 0 (0.00 Byte)
_________________________________________________________________"""  # noqa: W291, W293 (Keras pads every row)


def test_summary_text_is_exactly_keras():
    backend.clear_session()
    model = models.Sequential([Dense(512, activation="relu", input_shape=(64,)),
                               Dense(10, activation="softmax")])
    lines = []
    model.summary(print_fn=lines.append)
    assert "\n".join(lines) == EXPECTED


def test_summary_prints_to_stdout(capsys):
    backend.clear_session()
    models.Sequential([Dense(512, activation="relu", input_shape=(64,)), Dense(10)]).summary()
    out = capsys.readouterr().out
    assert out.startswith('Model: "sequential"\n') and " dense (Dense)  " in out


def test_non_trainable_and_parameterless_layers():
    backend.clear_session()
    model = models.Sequential([Dense(4, input_shape=(3,), trainable=False), Dropout(0.5), Dense(2)],
                              name="frozen")
    lines = []
    model.summary(print_fn=lines.append)
    assert lines[0] == 'Model: "frozen"'
    assert lines[6].rstrip() == " dropout (Dropout)           (None, 4)                 0"
    assert lines[-4:-1] == [
        "Total params: 26 (104.00 Byte)",
        "Trainable params: 10 (40.00 Byte)",
        "Non-trainable params: 16 (64.00 Byte)",
    ]


def test_summary_of_an_unbuilt_model():
    with pytest.raises(ValueError, match="not yet been built"):
        models.Sequential([Dense(3)]).summary()


def test_memory_sizes():
    assert summary._readable_memory_size(0) == "0.00 Byte"
    assert summary._readable_memory_size(153640) == "150.04 KB"
    assert summary._readable_memory_size(3 * 1024 ** 2) == "3.00 MB"


def test_print_summary_is_model_summary():
    backend.clear_session()
    model = models.Sequential([Dense(512, activation="relu", input_shape=(64,)),
                               Dense(10, activation="softmax")])
    lines = []
    summary.print_summary(model, print_fn=lines.append)
    assert "\n".join(lines) == EXPECTED

