import { execFileSync } from 'node:child_process';

/**
 * The test corpus, made by the system's Python (stdlib pickle and zipfile; no torch): benign state-dict-like
 * pickles in protocols 0 to 5 that reference PyTorch's rebuild functions through stand-in modules, malicious
 * pickles, PyTorch-style zip archives (stored and deflated), a zip nested in a zip and a legacy `torch.save`
 * stream (several pickles followed by raw storage bytes).
 */
const SCRIPT = String.raw`
import pickle, sys, types, io, zipfile, json, base64, collections, os, subprocess, runpy, pickletools

def fake_module(name):
    mod = types.ModuleType(name)
    sys.modules[name] = mod
    parent, _, child = name.rpartition('.')
    if parent:
        setattr(sys.modules[parent], child, mod)
    return mod

torch = fake_module('torch'); utils = fake_module('torch._utils')
def _rebuild_tensor_v2(*a): pass
_rebuild_tensor_v2.__module__ = 'torch._utils'; utils._rebuild_tensor_v2 = _rebuild_tensor_v2
class FloatStorage: pass
FloatStorage.__module__ = 'torch'; torch.FloatStorage = FloatStorage
class Size(tuple): pass
Size.__module__ = 'torch'; torch.Size = Size

class Storage:
    def __init__(self, key): self.key = key
    def __reduce__(self): return (FloatStorage, ())
class Tensor:
    def __init__(self, key, shape): self.storage = Storage(key); self.shape = shape
    def __reduce_ex__(self, proto):
        return (_rebuild_tensor_v2, (self.storage, 0, Size(self.shape), (self.shape[1], 1), False, collections.OrderedDict()))

class TorchPickler(pickle.Pickler):
    def persistent_id(self, obj):
        if isinstance(obj, Storage): return ('storage', FloatStorage, obj.key, 'cpu', 4)
        return None

def state_dict():
    return collections.OrderedDict([('layer.weight', Tensor('0', (2, 2))), ('layer.bias', Tensor('1', (2, 1))), ('step', 3), ('names', {'a', 'b'})])

def dumps(obj, proto, persistent=True):
    buf = io.BytesIO()
    (TorchPickler if persistent and proto >= 1 else pickle.Pickler)(buf, protocol=proto).dump(obj)
    return buf.getvalue()

class Evil:
    def __init__(self, fn, args): self.fn = fn; self.args = args
    def __reduce__(self): return (self.fn, self.args)

out = {}
for proto in range(6):
    out[f'benign_p{proto}'] = dumps(state_dict(), proto)
out['os_system_global'] = b"cos\nsystem\n(S'echo pwned'\ntR."
# STACK_GLOBAL whose module and name come from the memo (strings pickled earlier in a list)
memo = pickle.dumps([os.system.__module__, os.system.__qualname__, Evil(os.system, ('echo pwned',))], protocol=4)
assert b'\x93' in memo
ops = [op.name for op, arg, pos in pickletools.genops(memo)]
i = ops.index('STACK_GLOBAL')
assert 'BINGET' in ops[i-4:i], ops
out['os_system_stack_global_memo'] = memo
out['builtins_eval'] = pickle.dumps(Evil(eval, ('1+1',)), protocol=2)
out['builtins_eval_p4'] = pickle.dumps(Evil(eval, ('1+1',)), protocol=4)
out['posix_system'] = pickle.dumps(Evil(os.system, ('id',)), protocol=3)
out['subprocess_popen'] = pickle.dumps(Evil(subprocess.Popen, (['true'],)), protocol=5)
out['runpy_run_code'] = pickle.dumps(Evil(runpy._run_code, ('print(1)', {})), protocol=4)
out['unknown_import'] = pickle.dumps(collections.OrderedDict(ns=Evil(collections.namedtuple, ('P', 'x'))), protocol=2)

def torch_zip(pkl, compression=zipfile.ZIP_STORED):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, 'w', compression) as z:
        z.writestr('archive/data.pkl', pkl)
        z.writestr('archive/byteorder', 'little')
        z.writestr('archive/data/0', b'\x80\x02' + bytes(range(14)))
        z.writestr('archive/data/1', b'\x00' * 8)
        z.writestr('archive/version', '3\n')
    return buf.getvalue()

out['torch_zip_benign'] = torch_zip(dumps(state_dict(), 2))
out['torch_zip_benign_deflated'] = torch_zip(dumps(state_dict(), 2), zipfile.ZIP_DEFLATED)
out['torch_zip_malicious'] = torch_zip(pickle.dumps(Evil(os.system, ('id',)), protocol=2))
nested = io.BytesIO()
with zipfile.ZipFile(nested, 'w', zipfile.ZIP_DEFLATED) as z:
    z.writestr('README.md', '# bundle\n')
    z.writestr('checkpoints/model.pt', out['torch_zip_malicious'])
out['nested_zip_malicious'] = nested.getvalue()
legacy = io.BytesIO()
for part in (0x1950a86a20f9469cfc6c, 1001, {'little_endian': True}):
    pickle.dump(part, legacy, protocol=2)
TorchPickler(legacy, protocol=2).dump(state_dict())
pickle.dump(['0', '1'], legacy, protocol=2)
legacy.write((4).to_bytes(8, 'little') + b'\x00' * 16)
out['legacy_torch'] = legacy.getvalue()
print(json.dumps({k: base64.b64encode(v).decode() for k, v in out.items()}))
`;

/** Corpus entries by name. */
export function pythonCorpus(): Record<string, Buffer> {
  const output = execFileSync('/usr/bin/python3', ['-c', SCRIPT], { encoding: 'utf8', maxBuffer: 64 << 20 });
  const encoded = JSON.parse(output) as Record<string, string>;
  return Object.fromEntries(
    Object.entries(encoded).map(([name, value]) => [name, Buffer.from(value, 'base64')]),
  );
}
