"""``model.summary()``: the classic Keras text table, one row per layer, then the parameter counts.

::

    Model: "sequential"
    _________________________________________________________________
     Layer (type)                Output Shape              Param #
    =================================================================
     dense (Dense)               (None, 512)               33280
    ...

The layout (column edges, two spaces between columns, long fields continued on
the next line, sizes in ``KB``) is Keras 2.13's, character for character.
"""


def print_summary(model, line_length=None, positions=None, print_fn=None):
    """Print the summary of a built ``Sequential`` ``model``; ``model.summary()`` calls this.

    Parameters
    ----------
    model : Sequential
    line_length : int, optional
        Width of the table (65).
    positions : list, optional
        Right edges of the columns, as fractions of the width ([0.45, 0.85, 1.0]) or
        absolute positions.
    print_fn : callable, optional
        Called with each line (default ``print``); e.g. ``lines.append``.
    """
    print_fn = print_fn or print
    line_length = line_length or 65
    positions = positions or [0.45, 0.85, 1.0]
    if positions[-1] <= 1:
        positions = [int(line_length * p) for p in positions]

    print_fn(f'Model: "{model.name}"')
    print_fn("_" * line_length)
    _print_row(["Layer (type)", "Output Shape", "Param #"], positions, print_fn)
    print_fn("=" * line_length)
    for layer in model.layers:
        fields = [f"{layer.name} ({type(layer).__name__})", layer.output_shape, layer.count_params()]
        _print_row(fields, positions, print_fn)
        print_fn(" " * line_length)
    print_fn("=" * line_length)
    trainable = model.trainable_variables
    non_trainable = model.non_trainable_variables
    trainable_count = sum(w.size for w in trainable)
    non_trainable_count = sum(w.size for w in non_trainable)
    trainable_bytes = sum(w.nbytes for w in trainable)
    non_trainable_bytes = sum(w.nbytes for w in non_trainable)
    print_fn(
        f"Total params: {trainable_count + non_trainable_count} "
        f"({_readable_memory_size(trainable_bytes + non_trainable_bytes)})"
    )
    print_fn(f"Trainable params: {trainable_count} ({_readable_memory_size(trainable_bytes)})")
    print_fn(
        f"Non-trainable params: {non_trainable_count} "
        f"({_readable_memory_size(non_trainable_bytes)})"
    )
    print_fn("_" * line_length)


def _readable_memory_size(size):
    """Bytes as Keras 2.13 prints them: ``'150.04 KB'``, ``'0.00 Byte'``."""
    for unit in ["Byte", "KB", "MB", "GB", "TB", "PB"]:
        if size / 1024 < 1:
            return f"{size:.2f} {unit}"
        size /= 1024
    return f"{size:.2f} PB"


def _print_row(fields, positions, print_fn):
    """One table row; a field too long for its column continues on the next line."""
    left_to_print = [str(field) for field in fields]
    while any(left_to_print):
        line = ""
        for col, text in enumerate(left_to_print):
            start = positions[col - 1] if col > 0 else 0
            last = col == len(positions) - 1
            space = 0 if last else 2
            # Two spaces separate columns; every column but the last also starts one in.
            cutoff = positions[col] - start - space - (0 if last else 1)
            piece = text[:cutoff]
            # Break long shapes after a "),", "]," ... for readability, as Keras does.
            breaks = [piece.find(s) + len(s) for s in ("),", "},", "],", "',") if piece.find(s) >= 0]
            if breaks:
                cutoff = min(breaks)
                piece = piece[:cutoff]
            if col == 0:
                line += " "
            line += piece + " " * space
            left_to_print[col] = text[cutoff:]
            line += " " * (positions[col] - len(line))
        print_fn(line)
