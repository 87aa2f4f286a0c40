"""seqserve's wire contract, shared by the client, the server and the trainer.

`seqserve.v1` and `seqserve.kserve.v2` are the generated gRPC code of `proto/` (built by
this distribution's package build); `manifest` reads and writes a model's `model.json`;
`codecs` turns user input into model symbols and back; `descriptors` gives a `.proto`
file's serialized descriptor without importing its generated module.
"""
