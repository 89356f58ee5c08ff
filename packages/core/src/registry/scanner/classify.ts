/** How an import found in a pickle is judged. */
export type ImportClassification = 'allowed' | 'dangerous' | 'unknown';

/** The verdict on one import, with why. */
export interface ImportJudgement {
  classification: ImportClassification;
  reason: string;
}

const TORCH_DTYPES = [
  'float32',
  'float',
  'float64',
  'double',
  'float16',
  'half',
  'bfloat16',
  'complex32',
  'complex64',
  'complex128',
  'cfloat',
  'cdouble',
  'uint8',
  'uint16',
  'uint32',
  'uint64',
  'int8',
  'int16',
  'short',
  'int32',
  'int',
  'int64',
  'long',
  'bool',
  'qint8',
  'quint8',
  'qint32',
  'quint4x2',
  'quint2x4',
  'float8_e4m3fn',
  'float8_e5m2',
  'float8_e4m3fnuz',
  'float8_e5m2fnuz',
];

const TORCH_STORAGES = [
  'FloatStorage',
  'DoubleStorage',
  'HalfStorage',
  'BFloat16Storage',
  'LongStorage',
  'IntStorage',
  'ShortStorage',
  'CharStorage',
  'ByteStorage',
  'BoolStorage',
  'ComplexFloatStorage',
  'ComplexDoubleStorage',
  'QUInt8Storage',
  'QInt8Storage',
  'QInt32Storage',
  'QUInt4x2Storage',
  'QUInt2x4Storage',
  'UntypedStorage',
  'TypedStorage',
];

/** What real checkpoints (PyTorch state dicts, NumPy arrays, plain containers) need, as `module.name`. */
export const ALLOWED_IMPORTS: ReadonlySet<string> = new Set([
  'collections.OrderedDict',
  'collections.defaultdict',
  'collections.Counter',
  'collections.deque',
  'torch._utils._rebuild_tensor',
  'torch._utils._rebuild_tensor_v2',
  'torch._utils._rebuild_tensor_v3',
  'torch._utils._rebuild_parameter',
  'torch._utils._rebuild_parameter_with_state',
  'torch._utils._rebuild_sparse_tensor',
  'torch._utils._rebuild_nested_tensor',
  'torch._utils._rebuild_qtensor',
  'torch._utils._rebuild_device_tensor_from_numpy',
  'torch._utils._rebuild_meta_tensor_no_storage',
  'torch._utils._rebuild_wrapper_subclass',
  'torch._tensor._rebuild_from_type_v2',
  'torch.Tensor',
  'torch.Size',
  'torch.device',
  'torch.dtype',
  'torch.strided',
  'torch.sparse_coo',
  'torch.contiguous_format',
  'torch.channels_last',
  'torch.per_tensor_affine',
  'torch.per_channel_affine',
  'torch.nn.parameter.Parameter',
  'torch.serialization._get_layout',
  'torch.storage.UntypedStorage',
  'torch.storage.TypedStorage',
  ...TORCH_STORAGES.map((name) => `torch.${name}`),
  ...TORCH_DTYPES.map((name) => `torch.${name}`),
  'numpy.core.multiarray._reconstruct',
  'numpy._core.multiarray._reconstruct',
  'numpy.core.multiarray.scalar',
  'numpy._core.multiarray.scalar',
  'numpy.ndarray',
  'numpy.dtype',
  'numpy.core.numeric._frombuffer',
  'numpy._core.numeric._frombuffer',
  '_codecs.encode',
  'builtins.set',
  'builtins.frozenset',
  'builtins.slice',
  'builtins.range',
  'builtins.complex',
  'builtins.bytearray',
  'builtins.bytes',
  'builtins.int',
  'builtins.float',
  'builtins.bool',
  'builtins.str',
  'builtins.tuple',
  'builtins.list',
  'builtins.dict',
  'builtins.object',
  'copyreg._reconstructor',
  'copyreg.__newobj__',
]);

/** Risky but not known-dangerous: they need a person to look (they load nested data or run code paths). */
const RISKY: Readonly<Record<string, string>> = {
  'torch.storage._load_from_bytes': 'calls torch.load on embedded bytes (a nested pickle)',
  'builtins.type': 'creates classes at load time',
  'builtins.object.__new__': 'creates arbitrary objects',
};

/** Modules whose every import blocks a version: they reach the OS, the network, or run code. */
export const DANGEROUS_MODULES: readonly string[] = [
  'os',
  'posix',
  'nt',
  'posixpath',
  'ntpath',
  'subprocess',
  '_posixsubprocess',
  'runpy',
  'socket',
  '_socket',
  'shutil',
  'sys',
  'importlib',
  'imp',
  'pkgutil',
  'zipimport',
  'pty',
  'webbrowser',
  'pickle',
  '_pickle',
  'cPickle',
  'dill',
  'joblib',
  'marshal',
  'ctypes',
  '_ctypes',
  'code',
  'codeop',
  'commands',
  'multiprocessing',
  'asyncio',
  'threading',
  '_thread',
  'signal',
  'pdb',
  'bdb',
  'timeit',
  'trace',
  'profile',
  'cProfile',
  'http',
  'urllib',
  'urllib2',
  'requests',
  'httpx',
  'ftplib',
  'telnetlib',
  'smtplib',
  'poplib',
  'imaplib',
  'ssl',
  'select',
  'selectors',
  'tempfile',
  'glob',
  'pathlib',
  'io',
  '_io',
  'fileinput',
  'linecache',
  'tarfile',
  'zipfile',
  'platform',
  'pip',
  'setuptools',
  'distutils',
  'venv',
  'ensurepip',
  'winreg',
  '_winapi',
  'msvcrt',
  'gc',
  'inspect',
  'types',
  'functools',
  'operator',
  '_operator',
  'torch.hub',
  'torch.jit',
  'torch.package',
  'torch.utils.cpp_extension',
  'numpy.testing',
  'numpy.f2py',
  'numpy.distutils',
  'numpy.lib.npyio',
  'IPython',
  'jinja2',
];

/** Exact imports that block, in modules that are otherwise only unknown. */
const DANGEROUS_IMPORTS: ReadonlySet<string> = new Set([
  'builtins.eval',
  'builtins.exec',
  'builtins.execfile',
  'builtins.compile',
  'builtins.open',
  'builtins.file',
  'builtins.__import__',
  'builtins.getattr',
  'builtins.setattr',
  'builtins.delattr',
  'builtins.globals',
  'builtins.locals',
  'builtins.vars',
  'builtins.input',
  'builtins.breakpoint',
  'builtins.help',
  'builtins.exit',
  'builtins.quit',
  'builtins.apply',
  'builtins.reload',
  'builtins.memoryview',
  'numpy.load',
  'numpy.fromfile',
  'numpy.loadtxt',
  'torch.load',
  'torch.serialization.load',
  'torch.classes.load_library',
  'torch.ops.load_library',
]);

/** Name parts that reach code or the interpreter whatever the module. */
const DANGEROUS_NAME_PARTS = new Set([
  'eval',
  'exec',
  'system',
  'popen',
  'spawn',
  'execv',
  'execve',
  'execl',
  'fork',
  'getattr',
  'setattr',
  'attrgetter',
  'methodcaller',
  'runstring',
  'load_library',
]);

/** Python 2 module names the unpickler maps to Python 3 ones (`fix_imports`, protocols 0 to 2). */
const PY2_MODULES: Readonly<Record<string, string>> = {
  __builtin__: 'builtins',
  exceptions: 'builtins',
  copy_reg: 'copyreg',
  commands: 'subprocess',
  cPickle: 'pickle',
  thread: '_thread',
  urllib2: 'urllib.request',
  urlparse: 'urllib.parse',
  httplib: 'http.client',
  SimpleHTTPServer: 'http.server',
  BaseHTTPServer: 'http.server',
  CGIHTTPServer: 'http.server',
  SocketServer: 'socketserver',
  StringIO: 'io',
  cStringIO: 'io',
  UserDict: 'collections',
  UserList: 'collections',
  UserString: 'collections',
};

const PY2_NAMES: Readonly<Record<string, string>> = {
  '__builtin__.intern': 'sys.intern',
  '__builtin__.reduce': 'functools.reduce',
  '__builtin__.xrange': 'builtins.range',
  '__builtin__.unicode': 'builtins.str',
  '__builtin__.basestring': 'builtins.str',
  '__builtin__.long': 'builtins.int',
  '__builtin__.unichr': 'builtins.chr',
};

function inModule(module: string, root: string): boolean {
  return module === root || module.startsWith(`${root}.`);
}

function judgeExact(module: string, name: string): ImportJudgement {
  const full = `${module}.${name}`;
  if (DANGEROUS_IMPORTS.has(full)) return { classification: 'dangerous', reason: `${full} runs code or I/O` };
  const dangerousRoot = DANGEROUS_MODULES.find((root) => inModule(module, root) || inModule(full, root));
  if (dangerousRoot)
    return { classification: 'dangerous', reason: `module ${dangerousRoot} reaches the OS or runs code` };
  const parts = name.split('.');
  for (const part of parts) {
    if (DANGEROUS_NAME_PARTS.has(part) || DANGEROUS_NAME_PARTS.has(part.replace(/^_+/, '')))
      return { classification: 'dangerous', reason: `'${part}' runs code or reaches the OS` };
    if (DANGEROUS_MODULES.includes(part))
      return { classification: 'dangerous', reason: `attribute path through module '${part}'` };
  }
  if (ALLOWED_IMPORTS.has(full)) return { classification: 'allowed', reason: 'needed by real checkpoints' };
  if (module === 'numpy.dtypes' && /^[A-Za-z0-9]+DType$/.test(name))
    return { classification: 'allowed', reason: 'a NumPy dtype class' };
  if (parts.some((part) => /^__\w+__$/.test(part)))
    return { classification: 'dangerous', reason: `dunder attribute path '${name}'` };
  const risky = RISKY[full];
  if (risky) return { classification: 'unknown', reason: risky };
  return { classification: 'unknown', reason: 'not on the allow-list of what checkpoints need' };
}

/**
 * Judges one import: allowed (on the allow-list), dangerous (blocks the version) or unknown (needs review).
 * Python 2 names are judged as the unpickler maps them; a dangerous original name is dangerous either way.
 */
export function classifyImport(module: string, name: string): ImportJudgement {
  const original = judgeExact(module, name);
  const mappedFull = PY2_NAMES[`${module}.${name}`];
  let mapped: ImportJudgement | null = null;
  if (mappedFull) {
    const dot = mappedFull.lastIndexOf('.');
    mapped = judgeExact(mappedFull.slice(0, dot), mappedFull.slice(dot + 1));
  } else if (PY2_MODULES[module.split('.')[0]!]) {
    const [root, ...rest] = module.split('.');
    mapped = judgeExact([PY2_MODULES[root!]!, ...rest].join('.'), name);
  }
  if (!mapped) return original;
  if (original.classification === 'dangerous') return original;
  return mapped;
}
