"""seqserve trainer: fits the eight tutorial models, gates their skill and exports them to ONNX.

Run it as ``python -m seqserve.trainer train|export``; see ``__main__`` for the options.
"""
