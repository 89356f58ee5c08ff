#!/usr/bin/python3
"""Writes the model-artifact scanner's corpus into a directory (standard library only).

    /usr/bin/python3 make-corpus.py OUT_DIR

Two kinds of files, listed in OUT_DIR/manifest.json as {"path", "name", "expect", "about", "payload"}:

- "reject": files the scanner must never pass. Most carry a pickle that would call
  os.system('echo pwned') when loaded the way the file invites (pickle.load, numpy.load with
  allow_pickle=True, gzip/bz2/lzma + pickle, zipfile + pickle); the others are formats the scanner
  cannot validate. The payloads are generated, never loaded: `payload: true` files are checked
  statically here (pickletools walks the opcodes the unpickler would run and finds the import of
  posix.system followed by a REDUCE), so a broken generator cannot make the test pass vacuously.
- "pass": benign files in real formats the scanner must pass: safetensors, GGUF, ONNX and
  SentencePiece protobufs, tokenizer/config JSON and text, NumPy arrays, allow-listed pickles, and
  zip (stored, deflate, bzip2, lzma, xz) / gzip / bz2 / xz wrappers of them.

Each file lies in its own folder under OUT_DIR/<expect>/<case>/ so that names such as
pytorch_model.bin can repeat.
"""

import bz2
import collections
import gzip
import io
import json
import lzma
import os
import pickle
import pickletools
import struct
import sys
import types
import zipfile
import zlib

COMMAND = 'echo pwned'


# ---------------------------------------------------------------------------------------------
# Pickles


class Reduce:
    """Pickles as a call of `fn(*args)`: what a malicious checkpoint does with os.system."""

    def __init__(self, fn, args):
        self.fn = fn
        self.args = args

    def __reduce__(self):
        return (self.fn, self.args)


def evil_pickle(protocol):
    # os.system is pickled by reference as posix.system (on POSIX); nothing is called here.
    return pickle.dumps(Reduce(os.system, (COMMAND,)), protocol=protocol)


EVIL_TEXT = b"cos\nsystem\n(S'" + COMMAND.encode() + b"'\ntR."


def fake_module(name):
    module = types.ModuleType(name)
    sys.modules[name] = module
    parent, _, child = name.rpartition('.')
    if parent:
        setattr(sys.modules[parent], child, module)
    return module


# Stand-ins for the PyTorch names a real state dict references (torch is not installed here).
torch = fake_module('torch')
torch_utils = fake_module('torch._utils')


def _rebuild_tensor_v2(*args):
    return args


_rebuild_tensor_v2.__module__ = 'torch._utils'
torch_utils._rebuild_tensor_v2 = _rebuild_tensor_v2


class FloatStorage:
    pass


FloatStorage.__module__ = 'torch'
torch.FloatStorage = FloatStorage


class Storage:
    def __init__(self, key):
        self.key = key


class Tensor:
    def __init__(self, key, shape):
        self.storage = Storage(key)
        self.shape = shape

    def __reduce_ex__(self, protocol):
        stride = (self.shape[1], 1)
        return (_rebuild_tensor_v2, (self.storage, 0, self.shape, stride, False, collections.OrderedDict()))


class TorchPickler(pickle.Pickler):
    def persistent_id(self, obj):
        if isinstance(obj, Storage):
            return ('storage', FloatStorage, obj.key, 'cpu', 4)
        return None


def state_dict_pickle(protocol=2):
    """A PyTorch-style state dict: only allow-listed globals (OrderedDict, _rebuild_tensor_v2, FloatStorage)."""
    state = collections.OrderedDict(
        [('layer.weight', Tensor('0', (2, 2))), ('layer.bias', Tensor('1', (2, 1))), ('step', 3)]
    )
    buffer = io.BytesIO()
    TorchPickler(buffer, protocol=protocol).dump(state)
    return buffer.getvalue()


def plain_pickle(protocol=4):
    """Plain data: an OrderedDict of numbers, strings and lists."""
    return pickle.dumps(
        collections.OrderedDict([('lr', 0.001), ('epochs', 3), ('labels', ['neg', 'pos']), ('seed', 1234)]),
        protocol=protocol,
    )


def check_payload(data, where):
    """Statically: the opcodes the unpickler runs from byte 0 import posix/os.system, then REDUCE."""
    stream = io.BytesIO(data)
    pickletools.dis(stream, out=io.StringIO())  # raises on a malformed stream or stack misuse
    imports = []
    strings = []
    reduced = False
    for opcode, arg, _pos in pickletools.genops(io.BytesIO(data)):
        if opcode.name in ('GLOBAL', 'INST'):
            imports.append(tuple(arg.split(' ', 1)))
        elif opcode.name in ('SHORT_BINUNICODE', 'BINUNICODE', 'UNICODE', 'STRING', 'BINSTRING'):
            strings.append(arg)
        elif opcode.name == 'STACK_GLOBAL':
            imports.append(tuple(strings[-2:]))
        elif opcode.name == 'REDUCE':
            reduced = True
    if not reduced or not any(found in (('posix', 'system'), ('os', 'system')) for found in imports):
        raise SystemExit(f'{where}: payload does not reach os.system: {imports}')


# ---------------------------------------------------------------------------------------------
# Binary formats written by hand


def safetensors(tensors, metadata=None):
    """tensors: [(name, dtype, shape, bytes)], laid out contiguously in order."""
    header = {}
    if metadata is not None:
        header['__metadata__'] = metadata
    offset = 0
    for name, dtype, shape, data in tensors:
        header[name] = {'dtype': dtype, 'shape': shape, 'data_offsets': [offset, offset + len(data)]}
        offset += len(data)
    text = json.dumps(header, separators=(',', ':')).encode()
    text += b' ' * ((8 - len(text) % 8) % 8)
    return struct.pack('<Q', len(text)) + text + b''.join(data for *_rest, data in tensors)


def gguf_string(text):
    data = text.encode()
    return struct.pack('<Q', len(data)) + data


def gguf(alignment=32):
    """A GGUF v3 file: typed metadata (strings, numbers, bools, arrays) and F32 / Q8_0 / F16 tensors."""
    words = ['<unk>', '<s>', '</s>', 'hello', 'w\u00f6rld']
    kvs = [
        ('general.architecture', 8, gguf_string('llama')),
        ('general.name', 8, gguf_string('corpus-tiny')),
        ('general.alignment', 4, struct.pack('<I', alignment)),
        ('llama.context_length', 4, struct.pack('<I', 128)),
        ('llama.rope.freq_base', 6, struct.pack('<f', 10000.0)),
        ('llama.attention.layer_norm_rms_epsilon', 12, struct.pack('<d', 1e-5)),
        ('tokenizer.ggml.add_bos_token', 7, b'\x01'),
        ('tokenizer.ggml.tokens', 9, struct.pack('<IQ', 8, len(words)) + b''.join(gguf_string(w) for w in words)),
        ('tokenizer.ggml.scores', 9, struct.pack('<IQ', 6, len(words)) + struct.pack(f'<{len(words)}f', *range(5))),
        ('tokenizer.ggml.token_type', 9, struct.pack('<IQ', 5, len(words)) + struct.pack('<5i', 2, 3, 3, 1, 1)),
        ('general.file_type', 4, struct.pack('<I', 7)),
        ('general.quantization_version', 10, struct.pack('<Q', 2)),
    ]
    # (name, dims (ne0 first), ggml type, data)
    tensors = [
        ('token_embd.weight', [4, 5], 0, struct.pack('<20f', *[i / 10 for i in range(20)])),
        ('blk.0.attn_q.weight', [32, 2], 8, (struct.pack('<e', 0.5) + bytes(range(32))) * 2),
        ('output_norm.weight', [4], 1, struct.pack('<4e', 1, 1, 1, 1)),
    ]
    pad = lambda n: (alignment - n % alignment) % alignment  # noqa: E731
    infos = b''
    offset = 0
    for name, dims, kind, data in tensors:
        infos += gguf_string(name) + struct.pack('<I', len(dims)) + struct.pack(f'<{len(dims)}Q', *dims)
        infos += struct.pack('<IQ', kind, offset)
        offset += len(data) + pad(len(data))
    head = b'GGUF' + struct.pack('<IQQ', 3, len(tensors), len(kvs))
    head += b''.join(gguf_string(key) + struct.pack('<I', kind) + value for key, kind, value in kvs) + infos
    body = head + b'\x00' * pad(len(head))
    for _name, _dims, _kind, data in tensors:
        body += data + b'\x00' * pad(len(data))
    return body


def varint(value):
    out = b''
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out += bytes([byte | 0x80])
        else:
            return out + bytes([byte])


def pb_varint(field, value):
    return varint(field << 3) + varint(value)


def pb_bytes(field, data):
    if isinstance(data, str):
        data = data.encode()
    return varint(field << 3 | 2) + varint(len(data)) + data


def pb_float(field, value):
    return varint(field << 3 | 5) + struct.pack('<f', value)


def onnx_model(external=False):
    """An ONNX ModelProto: y = Transpose(Add(x, W)) with W an initializer, opset 17 (W in a file if `external`)."""

    def value_info(name):
        dims = pb_bytes(1, pb_varint(1, 2)) + pb_bytes(1, pb_varint(1, 2))  # TensorShapeProto.dim
        tensor_type = pb_varint(1, 1) + pb_bytes(2, dims)  # elem_type FLOAT, shape
        return pb_bytes(1, name) + pb_bytes(2, pb_bytes(1, tensor_type))

    add = pb_bytes(1, 'x') + pb_bytes(1, 'W') + pb_bytes(2, 'sum') + pb_bytes(3, 'add0') + pb_bytes(4, 'Add')
    perm = pb_bytes(1, 'perm') + pb_varint(20, 7) + pb_bytes(8, varint(1) + varint(0))  # INTS, packed
    transpose = pb_bytes(1, 'sum') + pb_bytes(2, 'y') + pb_bytes(3, 't0') + pb_bytes(4, 'Transpose')
    transpose += pb_bytes(5, perm)
    weight = pb_bytes(1, varint(2) + varint(2)) + pb_varint(2, 1) + pb_bytes(8, 'W')
    if external:
        weight += pb_bytes(13, pb_bytes(1, 'location') + pb_bytes(2, '../../../../etc/passwd')) + pb_varint(14, 1)
    else:
        weight += pb_bytes(9, struct.pack('<4f', 1.0, 2.0, 3.0, 4.0))
    graph = pb_bytes(1, add) + pb_bytes(1, transpose) + pb_bytes(2, 'tiny') + pb_bytes(5, weight)
    graph += pb_bytes(11, value_info('x')) + pb_bytes(12, value_info('y'))
    opset = pb_bytes(1, '') + pb_varint(2, 17)
    return (
        pb_varint(1, 8)
        + pb_bytes(2, 'make-corpus')
        + pb_bytes(3, '1.0')
        + pb_varint(5, 1)
        + pb_bytes(7, graph)
        + pb_bytes(8, opset)
        + pb_bytes(14, pb_bytes(1, 'license') + pb_bytes(2, 'apache-2.0'))
    )


def sentencepiece_model():
    """A SentencePiece ModelProto (tokenizer.model): pieces, trainer spec and normalizer spec."""
    pieces = [('<unk>', 0.0, 2), ('<s>', 0.0, 3), ('</s>', 0.0, 3), ('\u2581the', -1.5, 1), ('\u2581a', -2.0, 1)]
    out = b''.join(pb_bytes(1, pb_bytes(1, p) + pb_float(2, s) + pb_varint(3, t)) for p, s, t in pieces)
    out += pb_bytes(2, pb_varint(3, 1) + pb_varint(4, len(pieces)))  # model_type UNIGRAM, vocab_size
    out += pb_bytes(3, pb_bytes(1, 'nmt_nfkc') + pb_varint(3, 1))
    return out


def npy(descr, shape, data, version=1):
    header = "{'descr': %r, 'fortran_order': False, 'shape': %r, }" % (descr, tuple(shape))
    prefix = 10 if version == 1 else 12
    total = prefix + len(header) + 1
    header += ' ' * ((64 - total % 64) % 64) + '\n'
    length = struct.pack('<H', len(header)) if version == 1 else struct.pack('<I', len(header))
    return b'\x93NUMPY' + bytes([version, 0]) + length + header.encode('latin1') + data


def npy_payload(data):
    """What numpy.load hands to pickle.load: the bytes after the header."""
    assert data[:6] == b'\x93NUMPY'
    if data[6] == 1:
        length = struct.unpack('<H', data[8:10])[0]
        return data[10 + length :]
    length = struct.unpack('<I', data[8:12])[0]
    return data[12 + length :]


def make_zip(entries, compression=zipfile.ZIP_STORED):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, 'w', compression) as archive:
        for name, data in entries:
            archive.writestr(name, data)
    return buffer.getvalue()


def raw_zip(entries):
    """A zip written by hand: entries [(name, method, compressed bytes, uncompressed bytes)]."""
    locals_, centrals, offset = [], [], 0
    for name, method, packed, raw in entries:
        name_bytes = name.encode()
        crc = zlib.crc32(raw)
        local = struct.pack('<IHHHHHIIIHH', 0x04034B50, 63, 0, method, 0, 0x21, crc, len(packed), len(raw),
                            len(name_bytes), 0)
        central = struct.pack('<IHHHHHHIIIHHHHHII', 0x02014B50, 63, 63, 0, method, 0, 0x21, crc, len(packed),
                              len(raw), len(name_bytes), 0, 0, 0, 0, 0, offset)
        locals_.append(local + name_bytes + packed)
        centrals.append(central + name_bytes)
        offset += len(local) + len(name_bytes) + len(packed)
    directory = b''.join(centrals)
    end = struct.pack('<IHHHHIIH', 0x06054B50, 0, 0, len(entries), len(entries), len(directory), offset, 0)
    return b''.join(locals_) + directory + end


def torch_zip(data_pkl):
    return make_zip(
        [
            ('archive/data.pkl', data_pkl),
            ('archive/byteorder', 'little'),
            ('archive/data/0', struct.pack('<4f', 1, 2, 3, 4)),
            ('archive/data/1', struct.pack('<2f', 0.5, -0.5)),
            ('archive/version', '3\n'),
            ('archive/.data/serialization_id', '1234567890123456789012345678901234567890\n'),
        ]
    )


# ---------------------------------------------------------------------------------------------


def main(out_dir):
    manifest = []

    def add(expect, case, name, data, about, payload=None):
        folder = os.path.join(out_dir, expect, case)
        os.makedirs(folder, exist_ok=True)
        with open(os.path.join(folder, name), 'wb') as handle:
            handle.write(data)
        if payload is not None:
            check_payload(payload, f'{case}/{name}')
        manifest.append(
            {'path': f'{expect}/{case}/{name}', 'name': name, 'expect': expect, 'about': about,
             'payload': payload is not None}
        )

    evil2 = evil_pickle(2)
    evil3 = evil_pickle(3)
    evil4 = evil_pickle(4)

    # --- Files that must never pass -----------------------------------------------------------
    # GGUF's magic starts with 'G', BINFLOAT: it swallows 8 bytes, POP drops the float, the pickle runs.
    disguised = b'GGUF\x03\x00\x00\x00\x00' + b'0' + evil2
    add('reject', 'gguf-magic-pickle', 'pytorch_model.bin', disguised,
        'pickle behind a GGUF magic (BINFLOAT swallows it) in pytorch_model.bin', disguised)
    add('reject', 'gguf-magic-pickle-named-gguf', 'model.gguf', disguised,
        'the same bytes named .gguf', disguised)
    object_npy = npy('|O', (1,), evil3)
    add('reject', 'object-npy', 'array.npy', object_npy,
        'object-dtype .npy: numpy.load(allow_pickle=True) unpickles the data', npy_payload(object_npy))
    prefixed = b'\x880N0' + evil2  # NEWTRUE POP NONE POP, then PROTO 2 mid-stream
    add('reject', 'prefixed-pickle', 'weights.data', prefixed,
        'pickle after harmless opcodes (NEWTRUE POP NONE POP), unknown extension', prefixed)
    add('reject', 'gzip-pickle', 'model.pkl.gz', gzip.compress(evil4),
        'gzip-compressed pickle (joblib-style)', gzip.decompress(gzip.compress(evil4)))
    add('reject', 'bz2-pickle', 'model.pkl.bz2', bz2.compress(evil2), 'bzip2-compressed pickle', evil2)
    add('reject', 'xz-pickle', 'model.pkl.xz', lzma.compress(evil2), 'xz-compressed pickle', evil2)
    proto0_zip = make_zip([('model/README.md', '# weights\n'), ('model/weights', EVIL_TEXT)])
    add('reject', 'zip-protocol0-entry', 'model.zip', proto0_zip,
        'protocol-0 pickle in a stored zip entry not named .pkl',
        zipfile.ZipFile(io.BytesIO(proto0_zip)).read('model/weights'))
    proto0_deflated = make_zip([('model/weights', EVIL_TEXT)], zipfile.ZIP_DEFLATED)
    add('reject', 'zip-protocol0-entry-deflated', 'checkpoint.zip', proto0_deflated,
        'protocol-0 pickle in a deflated zip entry not named .pkl',
        zipfile.ZipFile(io.BytesIO(proto0_deflated)).read('model/weights'))
    bzip2_zip = make_zip([('model/weights.bin', evil2)], zipfile.ZIP_BZIP2)
    add('reject', 'zip-bzip2-entry', 'model.zip', bzip2_zip,
        'pickle in a bzip2-compressed zip entry (method 12)',
        zipfile.ZipFile(io.BytesIO(bzip2_zip)).read('model/weights.bin'))
    lzma_zip = make_zip([('model/weights.bin', evil2)], zipfile.ZIP_LZMA)
    add('reject', 'zip-lzma-entry', 'model.zip', lzma_zip, 'pickle in an LZMA zip entry (method 14)',
        zipfile.ZipFile(io.BytesIO(lzma_zip)).read('model/weights.bin'))
    gz_in_zip = make_zip([('model/state.gz', gzip.compress(evil2))])
    add('reject', 'zip-gzip-entry', 'bundle.zip', gz_in_zip, 'gzip-compressed pickle inside a zip entry',
        gzip.decompress(zipfile.ZipFile(io.BytesIO(gz_in_zip)).read('model/state.gz')))
    add('reject', 'torch-zip', 'pytorch_model.bin', torch_zip(evil2), 'PyTorch zip whose data.pkl calls os.system',
        evil2)
    add('reject', 'text-pickle', 'notes.txt', EVIL_TEXT, 'protocol-0 pickle that is plain ASCII text',
        EVIL_TEXT)
    add('reject', 'zip-zstd-entry', 'model.zip', raw_zip([('model/weights.bin', 93, b'\x28\xb5\x2f\xfd' + bytes(12),
                                                          bytes(16))]),
        'zip entry compressed with zstd (method 93): cannot be opened, so it cannot pass')
    add('reject', 'unknown-binary', 'weights.dat', bytes((i * 37 + 11) % 251 for i in range(4096)),
        'binary data of no recognised format')
    add('reject', 'truncated-gguf', 'model.gguf', gguf()[:200], 'a GGUF cut short inside its metadata')
    bad_st = bytearray(safetensors([('w', 'F32', [2, 2], bytes(16))]))
    bad_st += b'\x00' * 8  # data after the last tensor: not contiguous to the end
    add('reject', 'safetensors-trailing', 'model.safetensors', bytes(bad_st),
        'safetensors whose tensors do not cover the data section')
    add('reject', 'hdf5', 'tf_model.h5', b'\x89HDF\r\n\x1a\n' + bytes(504), 'HDF5 (Keras can carry Lambda code)')
    # Text that is a protocol-0 pickle using number forms int()/float() accept (underscores): a scanner
    # whose pickle parser rejects them would take these for plain text.
    put_underscore = b"Np1_0\n0" + EVIL_TEXT
    add('reject', 'text-pickle-memo-underscore', 'notes.txt', put_underscore,
        'text protocol-0 pickle whose PUT index is written 1_0', put_underscore)
    float_underscore = b"F1e1_0\n0" + EVIL_TEXT
    add('reject', 'text-pickle-float-underscore', 'vocab.txt', float_underscore,
        'text protocol-0 pickle with FLOAT 1e1_0 (the pure-Python unpickler joblib uses accepts it)',
        float_underscore)
    add('reject', 'onnx-external-data', 'model.onnx', onnx_model(external=True),
        'ONNX whose initializer points at an external file outside the model (not inspected)')
    add('reject', 'yaml-python-tag', 'config.yaml', b'model: !!python/object/apply:os.system ["echo pwned"]\n',
        'YAML with a python/object tag (yaml.unsafe_load calls os.system)')
    add('reject', 'torchscript-code', 'model.pt', make_zip(
        [('model/data.pkl', state_dict_pickle(2)), ('model/code/__torch__/model.py', 'def forward(self):\n  pass\n'),
         ('model/version', '3\n')]), 'TorchScript archive: its code/ runs on torch.jit.load')

    # --- Files that must pass -------------------------------------------------------------------
    add('pass', 'safetensors', 'model.safetensors', safetensors(
        [
            ('embed.weight', 'F32', [3, 4], struct.pack('<12f', *range(12))),
            ('mask', 'BOOL', [5], b'\x01\x00\x01\x01\x00'),
            ('norm.bias', 'BF16', [3], bytes(6)),
            ('step', 'I64', [], struct.pack('<q', 7)),
            ('empty', 'F16', [0, 4], b''),
        ],
        {'format': 'pt'},
    ), 'safetensors with F32, BOOL, BF16, I64 scalar and empty tensors')
    add('pass', 'safetensors-index', 'model.safetensors.index.json', json.dumps(
        {'metadata': {'total_size': 48}, 'weight_map': {'embed.weight': 'model.safetensors'}}, indent=2).encode(),
        'sharded safetensors index')
    add('pass', 'gguf', 'model-q8_0.gguf', gguf(), 'GGUF v3 with metadata arrays and F32/Q8_0/F16 tensors')
    add('pass', 'gguf-as-bin', 'ggml-model.bin', gguf(64), 'GGUF (alignment 64) under a .bin name')
    add('pass', 'onnx', 'model.onnx', onnx_model(), 'ONNX ModelProto with nodes, attribute and initializer')
    add('pass', 'sentencepiece', 'tokenizer.model', sentencepiece_model(), 'SentencePiece model protobuf')
    tokenizer = {
        'version': '1.0', 'truncation': None, 'padding': None,
        'added_tokens': [{'id': 0, 'content': '[UNK]', 'special': True}],
        'normalizer': {'type': 'NFC'}, 'pre_tokenizer': {'type': 'Whitespace'}, 'post_processor': None,
        'decoder': None,
        'model': {'type': 'WordLevel', 'vocab': {'[UNK]': 0, 'hello': 1, 'w\u00f6rld': 2, '\u4f60\u597d': 3},
                  'unk_token': '[UNK]'},
    }
    add('pass', 'tokenizer-json', 'tokenizer.json', json.dumps(tokenizer, ensure_ascii=False).encode(),
        'tokenizers JSON (UTF-8)')
    add('pass', 'config-json', 'config.json', json.dumps({'architectures': ['LlamaForCausalLM'], 'hidden_size': 8,
                                                           'torch_dtype': 'float32'}, indent=2).encode(),
        'model config JSON')
    add('pass', 'tokenizer-config', 'tokenizer_config.json', b'{"model_max_length": 512, "bos_token": "<s>"}\n',
        'tokenizer config JSON')
    add('pass', 'vocab', 'vocab.txt', '[PAD]\n[UNK]\n[CLS]\ncat\ndog\n##ing\nios\n\u00e9t\u00e9\n'.encode(),
        'WordPiece vocab text')
    add('pass', 'merges', 'merges.txt', b'#version: 0.2\n\xc4\xa0 t\nh e\n', 'BPE merges text')
    add('pass', 'readme', 'README.md', '# Tiny model\n\nWeights in safetensors. \u2713\n'.encode(), 'model card')
    add('pass', 'notes', 'NOTES.md', b'Note: the weights are fp16.\nVersion 2\n', 'text that starts like pickle opcodes')
    add('pass', 'license', 'LICENSE', b'Copyright 2024 The Authors. All rights reserved.\n\nLicensed under the Apache '
        b'License, Version 2.0 (the "License");\nyou may not use this file except in compliance with the License.\n',
        'license text')
    add('pass', 'python-code', 'modeling_tiny.py', b'import torch\nfrom torch import nn\n\n\nclass Tiny(nn.Module):\n'
        b'    pass\n', 'model code (runs only with trust_remote_code, which the scan is told about)')
    add('pass', 'yaml-config', 'config.yaml', b'lr: 0.001\nepochs: 3\nlabels: [neg, pos]\n', 'plain YAML config')
    add('pass', 'torch-zip', 'pytorch_model.bin', torch_zip(state_dict_pickle(2)),
        'PyTorch zip checkpoint with an allow-listed data.pkl and raw storages')
    add('pass', 'state-dict-pickle', 'model.pt', state_dict_pickle(2), 'allow-listed state-dict pickle')
    add('pass', 'plain-pickle-p5', 'training_state.pkl', plain_pickle(5), 'plain data pickle (protocol 5)')
    add('pass', 'gzip-pickle', 'state.pkl.gz', gzip.compress(state_dict_pickle(4)), 'gzip of an allow-listed pickle')
    add('pass', 'bz2-pickle', 'state.pkl.bz2', bz2.compress(state_dict_pickle(2)), 'bzip2 of an allow-listed pickle')
    add('pass', 'xz-pickle', 'state.pkl.xz', lzma.compress(plain_pickle(4)), 'xz of an allow-listed pickle')
    bundle = [('bundle/data.pkl', state_dict_pickle(2)), ('bundle/extra.pkl', plain_pickle(2)),
              ('bundle/config.json', '{"a": 1}'), ('bundle/README.md', '# bundle\n')]
    add('pass', 'zip-stored', 'bundle.zip', make_zip(bundle), 'zip (stored) of benign pickles and JSON')
    add('pass', 'zip-deflate', 'bundle.zip', make_zip(bundle, zipfile.ZIP_DEFLATED), 'zip (deflate)')
    add('pass', 'zip-bzip2', 'bundle.zip', make_zip(bundle, zipfile.ZIP_BZIP2), 'zip (bzip2 entries)')
    add('pass', 'zip-lzma', 'bundle.zip', make_zip(bundle, zipfile.ZIP_LZMA), 'zip (LZMA entries)')
    xz_entries = [(name, 95, lzma.compress(data if isinstance(data, bytes) else data.encode()),
                   data if isinstance(data, bytes) else data.encode()) for name, data in bundle]
    add('pass', 'zip-xz', 'bundle.zip', raw_zip(xz_entries), 'zip (xz entries, method 95)')
    add('pass', 'nested-zip', 'outer.zip', make_zip([('inner/model.pt', torch_zip(state_dict_pickle(2)))]),
        'a PyTorch zip inside a zip')
    add('pass', 'npy-f4', 'array.npy', npy('<f4', (2, 3), struct.pack('<6f', *range(6))), 'numeric .npy (<f4)')
    add('pass', 'npy-v2-i8', 'ids.npy', npy('<i8', (4,), struct.pack('<4q', 1, 2, 3, 4), version=2),
        'numeric .npy version 2 (<i8)')

    with open(os.path.join(out_dir, 'manifest.json'), 'w') as handle:
        json.dump(manifest, handle, indent=2)


if __name__ == '__main__':
    if len(sys.argv) != 2:
        raise SystemExit('usage: make-corpus.py OUT_DIR')
    main(sys.argv[1])
