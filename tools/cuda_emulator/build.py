"""Builds the CUDA kernels of ``cuda/`` for the CPU, as Python modules ``emu_<family>``.

The CUDA emulator (this folder) runs the project's kernels without a GPU, to check their logic:
each family's ``cuda/<family>.cu`` is rewritten into plain C++ and compiled with g++ against the
headers of ``include/`` (stand-ins for ``<cuda_runtime.h>``: threadIdx, __syncthreads, the warp
intrinsics, atomics, the runtime API), then linked with the family's unchanged binding
``cuda/bind_<family>.cpp`` and the emulator's runtime (``src/``) into a module that takes host
arrays posing as GPU arrays (``__cuda_array_interface__`` over host pointers). Blocks run one
after another; a block's threads are fibers that switch at barriers and warp collectives
(``include/emu/scheduler.h`` has the model and what it does not emulate).

The rewrite (:func:`rewrite`) changes three constructs and keeps every line where it was:

- ``kernel<<<grid, block, smem, stream>>>(args)`` becomes
  ``::emu::Launch("kernel", grid, block, smem, stream).run(kernel, args)``;
- ``__shared__ T name[n];`` becomes ``auto& name = ::emu::block_shared<T[n], align, id>();`` (one
  storage per declaration, poisoned when a block first uses it) and ``extern __shared__ T name[];``
  a pointer to the launch's dynamic shared memory (at namespace scope, a macro does either);
- ``asm("ptx" : outputs : inputs)`` becomes ``::emu::ptx::exec("ptx", "file:line", {operands})``,
  which runs the few PTX instructions src/ptx.cpp knows (TF32 conversion and mma.sync) and
  fails the launch with "unsupported inline PTX" on any other.

Every compiled object is cached under ``build/cuda_emulator/`` keyed by a hash of everything it
is built from (its sources and the headers they include, the emulator, the flags, the compiler),
so an unchanged family is not recompiled; the objects are compiled in parallel (``jobs``, all
CPUs by default) with ``g++ -O1``. A family whose sources fail to compile is reported with the
compiler's messages (and cached as failed until its sources change).

Usage (from the repository root)::

    python tools/cuda_emulator/build.py                 # every family; prints the results
    python tools/cuda_emulator/build.py pool2d rnn -j 2

From Python (tests/cuda/test_kernels_emulated.py loads this file by path)::

    builds = build(["pool2d"])
    module = builds["pool2d"].load()    # emu_pool2d: the ops of cuda/bind_pool2d.cpp
"""

from __future__ import annotations

import argparse
import concurrent.futures
import dataclasses
import hashlib
import importlib.util
import os
import pathlib
import re
import shutil
import subprocess
import sys
import sysconfig
import time
from types import ModuleType

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parents[1]
CUDA_DIR = ROOT / "cuda"
INCLUDE_DIRS = [ROOT / "cpp" / "include", ROOT / "cpp" / "bindings"]
EMU_INCLUDE = HERE / "include"
DEFAULT_CACHE = ROOT / "build" / "cuda_emulator"
REWRITE_VERSION = "1"  # part of every hash: bump when the rewrite's output changes

CXX_FLAGS = ["-std=c++17", "-O1", "-fPIC", "-fvisibility=hidden", "-pthread", "-w"]
CXX_FLAGS += ["-fno-strict-aliasing", "-ffp-contract=off"]
COMMON_SOURCES = ["scheduler.cpp", "runtime.cpp", "warp.cpp", "ptx.cpp", "math.cpp", "module.cpp"]

__all__ = ["FamilyBuild", "available", "build", "families", "rewrite"]


# ---------------------------------------------------------------------------------------------
# the rewrite


def _mask(text: str) -> str:
    """`text` with comments and the insides of string and character literals replaced by spaces
    (newlines kept), so that the scanners below see code only, at the same offsets."""
    out = list(text)
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if text.startswith("//", i):
            j = text.find("\n", i)
            j = n if j < 0 else j
            out[i:j] = " " * (j - i)
            i = j
        elif text.startswith("/*", i):
            j = text.find("*/", i + 2)
            j = n if j < 0 else j + 2
            out[i:j] = ["\n" if ch == "\n" else " " for ch in text[i:j]]
            i = j
        elif c in "\"'":
            j = i + 1
            while j < n and text[j] != c:
                j += 2 if text[j] == "\\" else 1
            out[i + 1 : j] = ["\n" if ch == "\n" else " " for ch in text[i + 1 : j]]
            i = j + 1
        else:
            i += 1
    return "".join(out)


def _match_forward(masked: str, i: int, open_: str, close: str) -> int:
    """Index just past the bracket closing the one at `i`."""
    depth = 0
    for j in range(i, len(masked)):
        if masked[j] == open_:
            depth += 1
        elif masked[j] == close:
            depth -= 1
            if depth == 0:
                return j + 1
    raise ValueError(f"unbalanced {open_}{close}")


def _callee_start(masked: str, end: int) -> int:
    """Start of the kernel expression ending at `end` (``ns::kernel<T, 4>`` or ``kernel``)."""
    i = end
    while i > 0 and masked[i - 1].isspace():
        i -= 1
    while True:
        if i > 0 and masked[i - 1] == ">":
            depth = 0
            j = i - 1
            while j >= 0:
                if masked[j] == ">":
                    depth += 1
                elif masked[j] == "<":
                    depth -= 1
                    if depth == 0:
                        break
                j -= 1
            i = j
            while i > 0 and masked[i - 1].isspace():
                i -= 1
        start = i
        while i > 0 and (masked[i - 1].isalnum() or masked[i - 1] == "_"):
            i -= 1
        if i == start:
            raise ValueError("cannot find the kernel of a <<<...>>> launch")
        if masked[i - 2 : i] == "::":
            i -= 2
            continue
        return i


def _line_of(text: str, i: int) -> int:
    return text.count("\n", 0, i) + 1


def _split_top(s: str, sep: str) -> list[str]:
    """`s` split at `sep` outside brackets and string literals (in an asm statement every colon
    outside parentheses separates sections: ``::`` is two of them)."""
    parts, depth, cur, i = [], 0, [], 0
    in_str = False
    while i < len(s):
        c = s[i]
        if in_str:
            cur.append(c)
            if c == "\\":
                cur.append(s[i + 1])
                i += 1
            elif c == '"':
                in_str = False
        elif c == '"':
            in_str = True
            cur.append(c)
        elif c in "([{":
            depth += 1
            cur.append(c)
        elif c in ")]}":
            depth -= 1
            cur.append(c)
        elif c == sep and depth == 0:
            parts.append("".join(cur))
            cur = []
        else:
            cur.append(c)
        i += 1
    parts.append("".join(cur))
    return parts


def _rewrite_launch(text: str, masked: str, at: int) -> tuple[int, int, str]:
    start = _callee_start(masked, at)
    callee = text[start:at].strip()
    close_cfg = masked.find(">>>", at)
    config = text[at + 3 : close_cfg]
    j = close_cfg + 3
    while masked[j].isspace():
        j += 1
    if masked[j] != "(":
        raise ValueError(f"line {_line_of(text, at)}: a <<<...>>> launch without arguments")
    end = _match_forward(masked, j, "(", ")")
    args = text[j + 1 : end - 1]
    name = " ".join(callee.split()).replace('"', '\\"')
    run_args = callee + (", " + args if args.strip() else "")
    return start, end, f'::emu::Launch("{name}", {config}).run({run_args})'


_ALIGN = re.compile(
    r"(?:__align__|alignas)\s*\(\s*(\d+)\s*\)"
    r"|__attribute__\s*\(\(\s*aligned\s*\(\s*(\d+)\s*\)\s*\)\)"
)
_DECL = re.compile(
    r"^(?P<type>.+?)\s*\b(?P<name>[A-Za-z_]\w*)\s*(?P<dims>(?:\[[^\[\]]*\]\s*)*)$", re.S
)


def _in_function(masked: str, at: int) -> bool:
    """Whether offset `at` lies in a function body (not only in namespaces / extern "C")."""
    stack, last = [], 0
    for m in re.finditer(r"[{};]", masked[:at]):
        if m.group() == "{":
            head = masked[last : m.start()]
            stack.append(bool(re.search(r'\bnamespace\b[\w:\s]*$|\bextern\s*"\s*"\s*$', head)))
        elif m.group() == "}" and stack:
            stack.pop()
        last = m.end()
    return not all(stack)


def _rewrite_shared(text: str, masked: str, at: int, path: str) -> tuple[int, int, str]:
    start = max(masked.rfind(c, 0, at) for c in ";{}") + 1
    while start < at and (masked[start].isspace() or masked[start] == "#"):
        if masked[start] == "#":  # a preprocessor line (#pragma unroll) before the declaration
            start = masked.index("\n", start)
        start += 1
    end = masked.index(";", at) + 1
    decl = masked[start : end - 1]
    align = 0
    for m in _ALIGN.finditer(decl):
        align = max(align, int(m.group(1) or m.group(2)))
    decl = _ALIGN.sub(" ", decl)
    is_extern = re.search(r"\bextern\b", decl) is not None
    decl = re.sub(r"\b(?:extern|static|__shared__)\b", " ", decl).strip()
    where = f"{path}:{_line_of(text, at)}"
    if "=" in decl or "," in re.sub(r"<[^<>]*>|\[[^\[\]]*\]", "", decl):
        raise ValueError(f"{where}: one __shared__ variable per declaration, no initializer")
    m = _DECL.match(decl)
    if not m or not m.group("type").strip():
        raise ValueError(f"{where}: cannot read the __shared__ declaration {decl!r}")
    type_, name = " ".join(m.group("type").split()), m.group("name")
    dims = re.findall(r"\[([^\[\]]*)\]", m.group("dims"))
    if is_extern:
        if not dims or dims[0].strip():
            raise ValueError(f"{where}: extern __shared__ must be an array of unknown size")
        elem = type_ + "".join(f"[({d})]" for d in dims[1:])
        value = f"::emu::dynamic_shared<{elem}>()"
        decl_form = f"auto* const {name} = {value};"
    else:
        full = type_ + "".join(f"[({d})]" for d in dims)
        value = f"::emu::block_shared<{full}, {align}, __COUNTER__>()"
        decl_form = f"auto& {name} = {value};"
    if _in_function(masked, at):
        return start, end, decl_form
    line = _line_of(text, end)
    macro = f'\n#undef {name}\n#define {name} ({value})\n#line {line + 1} "{path}"\n'
    return start, end, macro


def _rewrite_asm(text: str, masked: str, at: int, path: str) -> tuple[int, int, str]:
    m = re.compile(
        r"(?:asm|__asm__|__asm)\b(?:\s*(?:volatile|__volatile__|inline|goto)\b)*\s*"
    ).match(masked, at)
    open_ = m.end()
    if masked[open_] != "(":
        raise ValueError(f"{path}:{_line_of(text, at)}: cannot read the asm statement")
    close = _match_forward(masked, open_, "(", ")")
    sections = _split_top(text[open_ + 1 : close - 1], ":")
    template = sections[0].strip()
    operands = []
    for kind, section in (("out", 1), ("in", 2)):
        if len(sections) <= section or not sections[section].strip():
            continue
        for op in _split_top(sections[section], ","):
            om = re.match(r'\s*(?:\[\w+\]\s*)?"([^"]*)"\s*\((.*)\)\s*$', op, re.S)
            if not om:
                raise ValueError(f"{path}:{_line_of(text, at)}: cannot read asm operand {op!r}")
            operands.append(f"::emu::ptx::{kind}({om.group(2)})")
    where = f"{pathlib.Path(path).name}:{_line_of(text, at)}"
    call = f'::emu::ptx::exec({template}, "{where}", {{{", ".join(operands)}}})'
    return at, close, call


def rewrite(text: str, path: str = "<source>") -> str:
    """The emulator's C++ for CUDA source `text` (launches, shared memory, inline PTX rewritten;
    each line stays at its number, and ``#line`` names `path` in compiler messages)."""
    masked = _mask(text)
    edits = []
    for m in re.finditer(r"<<<", masked):
        edits.append(_rewrite_launch(text, masked, m.start()))
    for m in re.finditer(r"\b__shared__\b", masked):
        edits.append(_rewrite_shared(text, masked, m.start(), path))
    for m in re.finditer(r"\b(?:asm|__asm__|__asm)\b", masked):
        if masked[m.start() - 1 : m.start()] not in (".", ">"):  # not a member named asm
            edits.append(_rewrite_asm(text, masked, m.start(), path))
    edits.sort()
    for (_, end_a, _), (start_b, _, _) in zip(edits, edits[1:]):
        if start_b < end_a:
            raise ValueError(f"{path}: overlapping constructs near line {_line_of(text, start_b)}")
    out = text
    for start, end, new in reversed(edits):
        lost = text.count("\n", start, end) - new.count("\n")
        out = out[:start] + new + "\n" * max(lost, 0) + out[end:]
    return f'#line 1 "{path}"\n' + out


# ---------------------------------------------------------------------------------------------
# sources, hashes and the build


_INCLUDE = re.compile(r'^[ \t]*#[ \t]*include[ \t]*"([^"]+)"', re.M)


def families() -> list[str]:
    """The kernel families: cuda/bind_<family>.cpp with a cuda/<family>.cu beside it."""
    return sorted(
        p.stem[len("bind_") :]
        for p in CUDA_DIR.glob("bind_*.cpp")
        if (CUDA_DIR / f"{p.stem[len('bind_') :]}.cu").exists()
    )


def _closure(path: pathlib.Path) -> list[pathlib.Path]:
    """`path` and every project header it includes with "quotes", transitively."""
    seen: dict[pathlib.Path, None] = {}
    todo = [path]
    while todo:
        p = todo.pop()
        if p in seen:
            continue
        seen[p] = None
        for name in _INCLUDE.findall(p.read_text(encoding="utf-8", errors="replace")):
            for folder in [p.parent, CUDA_DIR, *INCLUDE_DIRS, EMU_INCLUDE]:
                if (folder / name).exists():
                    todo.append((folder / name).resolve())
                    break
    return list(seen)


def _digest(*parts: object) -> str:
    h = hashlib.sha256()
    for part in parts:
        if isinstance(part, pathlib.Path):
            h.update(str(part).encode() + b"\0" + part.read_bytes())
        else:
            h.update(repr(part).encode())
        h.update(b"\0")
    return h.hexdigest()[:16]


def _toolchain() -> tuple[str, list[str], str]:
    """(compiler, include flags of Python and pybind11, a string identifying both)."""
    import pybind11

    cxx = os.environ.get("CXX", "g++")
    version = subprocess.run([cxx, "--version"], capture_output=True, text=True, check=True)
    py_inc = sysconfig.get_paths()["include"]
    flags = [f"-I{pybind11.get_include()}", f"-I{py_inc}"]
    ident = version.stdout.splitlines()[0] + pybind11.__version__ + py_inc + sys.version
    return cxx, flags, ident


def available() -> str | None:
    """None when modules can be built here, else the reason they cannot."""
    cxx = os.environ.get("CXX", "g++")
    if shutil.which(cxx) is None:
        return f"no C++ compiler ({cxx}) on PATH"
    try:
        import pybind11  # noqa: F401
    except ImportError:
        return "pybind11 is not installed"
    if not (pathlib.Path(sysconfig.get_paths()["include"]) / "Python.h").exists():
        return "the Python development headers (Python.h) are missing"
    if sys.platform != "linux":
        return "the emulator's fibers and signal handling need Linux"
    return None


@dataclasses.dataclass
class _Job:
    """One compilation into `obj` (after `prepare`, when there is one)."""

    name: str
    obj: pathlib.Path
    command: list[str]
    prepare: object = None  # a callable writing rewritten sources first, or None
    weight: int = 1  # for ordering: heavier first
    src_dir: pathlib.Path | None = None  # where `prepare` writes the rewritten sources


@dataclasses.dataclass
class FamilyBuild:
    """The result of building one family: its module file, or the error that prevented it."""

    family: str
    module_path: pathlib.Path | None = None
    error: str = ""
    _module: ModuleType | None = dataclasses.field(default=None, repr=False)

    @property
    def ok(self) -> bool:
        return self.module_path is not None

    def load(self) -> ModuleType:
        """The module ``emu_<family>`` (imported once)."""
        if self.module_path is None:
            raise RuntimeError(f"[cuda_emulator] {self.family} did not build:\n{self.error}")
        if self._module is None:
            name = f"emu_{self.family}"
            spec = importlib.util.spec_from_file_location(name, self.module_path)
            module = importlib.util.module_from_spec(spec)
            try:
                spec.loader.exec_module(module)
            except ImportError as e:  # an undefined symbol: a function no source defines
                self.error = f"import failed: {e}"
                self.module_path = None
                raise RuntimeError(f"[cuda_emulator] {self.family}: {self.error}") from e
            self._module = module
        return self._module


def _deps(family: str) -> list[str]:
    """Families whose launchers `family`'s kernels call (rnn.cu includes gemm_launch.h)."""
    found, todo = [], [family]
    while todo:
        fam = todo.pop()
        for p in _closure(CUDA_DIR / f"{fam}.cu"):
            m = re.fullmatch(r"(\w+)_launch\.h", p.name)
            other = m.group(1) if m else None
            if (
                other
                and other != family
                and other not in found
                and (CUDA_DIR / f"{other}.cu").exists()
            ):
                found.append(other)
                todo.append(other)
    return found


def _run(job: _Job) -> tuple[str, bool]:
    """Runs `job`: ('', _) on success, else (the messages, whether the same inputs would fail
    again: a compile error, not a compiler killed by a signal)."""
    try:
        if job.prepare:
            job.prepare()
    except ValueError as e:
        return f"rewrite failed: {e}", True
    tmp = job.obj.with_suffix(f".tmp{os.getpid()}")
    result = subprocess.run([*job.command, "-o", str(tmp)], capture_output=True, text=True)
    if result.returncode != 0:
        tmp.unlink(missing_ok=True)
        message = (result.stderr or result.stdout)[:6000] or "the compiler failed"
        return message, result.returncode > 0
    os.replace(tmp, job.obj)
    return "", True


def build(
    families_: list[str] | None = None,
    *,
    sources: dict[str, pathlib.Path | str] | None = None,
    cache_dir: pathlib.Path | str | None = None,
    jobs: int | None = None,
    verbose: bool = False,
) -> dict[str, FamilyBuild]:
    """Builds ``emu_<family>`` for each family (all by default), and ``emu_<name>`` for each
    ``name: path`` of `sources` (a .cu file that defines ``pyfastdl::cuda_bind::bind_<name>``
    itself); returns them by name. The cache folder: `cache_dir`, else $PYFASTDL_EMULATOR_CACHE,
    else build/cuda_emulator."""
    reason = available()
    wanted = list(families_) if families_ is not None else (families() if not sources else [])
    if reason:
        return {f: FamilyBuild(f, error=reason) for f in [*wanted, *(sources or {})]}
    cache = pathlib.Path(cache_dir or os.environ.get("PYFASTDL_EMULATOR_CACHE") or DEFAULT_CACHE)
    for sub in ("src", "obj", "lib"):
        (cache / sub).mkdir(parents=True, exist_ok=True)
    cxx, py_flags, ident = _toolchain()
    emu_files = sorted(p for p in HERE.rglob("*") if p.suffix in (".h", ".cpp") and p.is_file())
    emu_hash = _digest(ident, CXX_FLAGS, REWRITE_VERSION, pathlib.Path(__file__), *emu_files)
    base_inc = [f"-I{EMU_INCLUDE}", f"-I{CUDA_DIR}", *(f"-I{d}" for d in INCLUDE_DIRS)]
    jobs_by_obj: dict[pathlib.Path, _Job] = {}

    def add(job: _Job) -> pathlib.Path:
        jobs_by_obj.setdefault(job.obj, job)
        return job.obj

    common = []
    for src in COMMON_SOURCES:
        extra = ["-frounding-math"] if src == "math.cpp" else []
        obj = cache / "obj" / f"emu-{pathlib.Path(src).stem}-{emu_hash}.o"
        cmd = [
            cxx,
            *CXX_FLAGS,
            *extra,
            f"-I{EMU_INCLUDE}",
            *py_flags,
            "-c",
            str(HERE / "src" / src),
        ]
        common.append(
            add(_Job(f"emulator {src}", obj, cmd, weight=3 if src == "module.cpp" else 1))
        )

    def cu_object(fam: str, cu: pathlib.Path) -> pathlib.Path:
        closure = _closure(cu)
        key = _digest(emu_hash, *closure)
        src_dir = cache / "src" / f"{fam}-{key}"
        local = [p for p in closure if p.parent in (CUDA_DIR, cu.parent)]

        def prepare(src_dir=src_dir, local=local) -> None:
            if (src_dir / "done").exists():
                return
            src_dir.mkdir(parents=True, exist_ok=True)
            for p in local:
                name = p.name + (".cpp" if p.suffix == ".cu" else "")
                (src_dir / name).write_text(rewrite(p.read_text(encoding="utf-8"), str(p)))
            (src_dir / "done").write_text("")

        cmd = [cxx, *CXX_FLAGS, "-D__CUDACC__", "-include", "cuda_runtime.h", f"-I{src_dir}"]
        cmd += [*base_inc, *py_flags, "-c", str(src_dir / f"{cu.name}.cpp")]
        obj = cache / "obj" / f"cu-{fam}-{key}.o"
        label = str(cu.relative_to(ROOT)) if cu.is_relative_to(ROOT) else str(cu)
        return add(_Job(label, obj, cmd, prepare, weight=2, src_dir=src_dir))

    plans: dict[str, tuple[list[pathlib.Path], pathlib.Path]] = {}
    own = {name: pathlib.Path(p).resolve() for name, p in (sources or {}).items()}
    for fam in [*wanted, *own]:
        if fam in own:  # a .cu that defines bind_<fam> itself
            objs = [cu_object(fam, own[fam])]
        else:
            bind = CUDA_DIR / f"bind_{fam}.cpp"
            if not bind.exists() or not (CUDA_DIR / f"{fam}.cu").exists():
                plans[fam] = ([], pathlib.Path())
                continue
            objs = [cu_object(f, CUDA_DIR / f"{f}.cu") for f in [fam, *_deps(fam)]]
            bkey = _digest(emu_hash, *_closure(bind))
            bcmd = [cxx, *CXX_FLAGS, *base_inc, *py_flags, "-c", str(bind)]
            bobj = cache / "obj" / f"bind-{fam}-{bkey}.o"
            objs.append(add(_Job(f"cuda/bind_{fam}.cpp", bobj, bcmd, weight=3)))
        init = cache / "src" / f"init_{fam}.cpp"
        init_text = (
            "// PyInit of the emulated module (tools/cuda_emulator/build.py).\n"
            "namespace pybind11 { class module_; }\n"
            f"namespace pyfastdl::cuda_bind {{ void bind_{fam}(pybind11::module_&); }}\n"
            'extern "C" struct _object* emu_make_module(const char*, void (*)(pybind11::module_&));\n'
            f'extern "C" __attribute__((visibility("default"))) struct _object* PyInit_emu_{fam}() {{\n'
            f'  return emu_make_module("emu_{fam}", &pyfastdl::cuda_bind::bind_{fam});\n}}\n'
        )
        ikey = _digest(emu_hash, init_text)

        def write_init(init=init, init_text=init_text) -> None:
            init.write_text(init_text)

        icmd = [cxx, *CXX_FLAGS, "-c", str(init)]
        objs.append(
            add(_Job(f"{fam} init", cache / "obj" / f"init-{fam}-{ikey}.o", icmd, write_init))
        )
        lib_key = _digest(*map(str, objs))
        ext = sysconfig.get_config_var("EXT_SUFFIX") or ".so"
        plans[fam] = ([*objs, *common], cache / "lib" / f"{fam}-{lib_key}" / f"emu_{fam}{ext}")

    # compile what is missing (a .failed file caches a failure of the same inputs)
    failures: dict[pathlib.Path, str] = {}
    todo = []
    for obj, job in jobs_by_obj.items():
        failed = obj.with_suffix(".failed")
        if obj.exists():
            continue
        if failed.exists():
            failures[obj] = failed.read_text()
            continue
        todo.append(job)
    todo.sort(key=lambda j: -j.weight)
    workers = max(1, jobs or os.cpu_count() or 1)
    t0 = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(workers) as pool:
        for job, (error, lasting) in zip(todo, pool.map(_run, todo)):
            if verbose:
                print(f"[cuda_emulator] {'FAILED' if error else 'compiled'} {job.name}", flush=True)
            if error:
                failures[job.obj] = f"{job.name}:\n{error}"
                if lasting:  # cached: the same sources fail the same way
                    job.obj.with_suffix(".failed").write_text(failures[job.obj])
    if verbose and todo:
        print(f"[cuda_emulator] compiled {len(todo)} files in {time.perf_counter() - t0:.0f} s")

    results = {}
    for fam, (objs, lib) in plans.items():
        if not objs:
            results[fam] = FamilyBuild(fam, error=f"no cuda/{fam}.cu or cuda/bind_{fam}.cpp")
            continue
        errors = [failures[o] for o in objs if o in failures]
        if errors:
            results[fam] = FamilyBuild(fam, error="\n".join(errors))
            continue
        if not lib.exists():
            lib.parent.mkdir(parents=True, exist_ok=True)
            tmp = lib.with_suffix(f".tmp{os.getpid()}")
            link = [cxx, "-shared", "-pthread", *map(str, objs), "-o", str(tmp)]
            result = subprocess.run(link, capture_output=True, text=True)
            if result.returncode != 0:
                results[fam] = FamilyBuild(fam, error=f"link failed:\n{result.stderr[-4000:]}")
                continue
            os.replace(tmp, lib)
        results[fam] = FamilyBuild(fam, module_path=lib)
    keep = {o for objs, _ in plans.values() for o in objs}
    keep |= {lib.parent for objs, lib in plans.values() if objs}
    keep |= {job.src_dir for job in jobs_by_obj.values() if job.src_dir}
    for sub in ("obj", "lib", "src"):
        _prune(cache / sub, keep)
    return results


def _prune(folder: pathlib.Path, keep: set) -> None:
    """Removes the entries of `folder` that one of `keep` replaces: the same name with another
    hash (``cu-rnn-<hash>.o``, ``rnn-<hash>/``), so the cache holds one version of each."""
    kept = {p.name.split(".")[0] for p in keep if p.parent == folder}
    names = {k.rsplit("-", 1)[0] for k in kept}
    for p in folder.iterdir():
        s = p.name.split(".")[0]
        if "-" not in s or s in kept or s.rsplit("-", 1)[0] not in names:
            continue
        if p.is_dir():
            shutil.rmtree(p, ignore_errors=True)
        else:
            p.unlink(missing_ok=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("families", nargs="*", help="families to build (default: all)")
    parser.add_argument("-j", "--jobs", type=int, default=None, help="parallel compilations")
    parser.add_argument("--cache", default=None, help=f"cache folder (default {DEFAULT_CACHE})")
    args = parser.parse_args(argv)
    results = build(args.families or None, cache_dir=args.cache, jobs=args.jobs, verbose=True)
    for fam, r in results.items():
        print(f"{fam:12} {'ok ' + str(r.module_path) if r.ok else 'FAILED'}")
        if not r.ok:
            print("  " + r.error.replace("\n", "\n  ")[:3000])
    return 0 if all(r.ok for r in results.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
