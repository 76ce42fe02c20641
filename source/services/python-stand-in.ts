/**
 * Python source the module reader runs (a TS string so the bundle carries it; nothing is read from
 * disk at run time).
 *
 * STAND_IN is a recording stand-in for flytekit / union, used only when the Python on PATH cannot
 * import flytekit. It is installed as the modules `flytekit`, `union` and `flytekitplugins` and
 * every submodule of them (`flytekit.image_spec`, `flytekit.types.file`, ...):
 * - `ImageSpec` is a dataclass with flytekit v1.16's fields, defaults and order, so a misspelt
 *   keyword fails as it does with flytekit; `__post_init__` does what changes the tag or fails the
 *   module in flytekit (lowercase name and registry, the registry check, the platform default with
 *   the localhost:+arm64 rule, source_copy_mode LOADED_MODULES when source_root is set, the
 *   list-of-strings checks); `with_packages`, `with_apt_packages`, `with_commands`, `with_copy`,
 *   `with_runtime_packages`, `with_builder_options` and `force_push` copy flytekit's
 *   `_update_attribute`. It computes no tag: TypeScript does, from the recorded fields.
 * - `CopyFileDetection` is flytekit's enum (flytekit.constants).
 * - Any other name (`task`, `workflow`, `Resources`, `FlyteFile`...) is a harmless placeholder
 *   class: calling it with one callable gives that callable back (so `@task` and `@task(...)` keep
 *   the function), any other call, attribute or subscript gives another placeholder, and it can be
 *   subclassed and used in `with`. Module code that needs real behaviour from them (running a task
 *   at import time) is not what `union register` does either.
 */
export const STAND_IN =
	String.raw`
import copy as _copy
import dataclasses
import enum
import importlib.abc
import importlib.util
import os
import platform as _platform
import re
import sys
import typing

ROOTS = {"flytekit", "union", "flytekitplugins"}


class CopyFileDetection(enum.Enum):
    LOADED_MODULES = 1
    ALL = 2
    NO_COPY = 3


CopyFileDetection.__module__ = "flytekit.constants"

_LIST_FIELDS = ("packages", "conda_channels", "conda_packages", "apt_packages", "pip_extra_index_url", "entrypoint", "commands", "runtime_packages")


@dataclasses.dataclass
class ImageSpec:
    name: str = "flytekit"
    python_version: str = None
    builder: typing.Optional[str] = None
    source_root: typing.Optional[str] = None
    env: typing.Optional[typing.Dict[str, str]] = None
    registry: typing.Optional[str] = None
    packages: typing.Optional[typing.List[str]] = None
    conda_packages: typing.Optional[typing.List[str]] = None
    conda_channels: typing.Optional[typing.List[str]] = None
    requirements: typing.Optional[str] = None
    apt_packages: typing.Optional[typing.List[str]] = None
    cuda: typing.Optional[str] = None
    cudnn: typing.Optional[str] = None
    base_image: typing.Optional[typing.Union[str, "ImageSpec"]] = None
    platform: typing.Optional[str] = None
    pip_index: typing.Optional[str] = None
    pip_extra_index_url: typing.Optional[typing.List[str]] = None
    pip_secret_mounts: typing.Optional[typing.List[typing.Tuple[str, str]]] = None
    pip_extra_args: typing.Optional[str] = None
    registry_config: typing.Optional[str] = None
    entrypoint: typing.Optional[typing.List[str]] = None
    commands: typing.Optional[typing.List[str]] = None
    tag_format: typing.Optional[str] = None
    source_copy_mode: typing.Optional[CopyFileDetection] = None
    copy: typing.Optional[typing.List[str]] = None
    python_exec: typing.Optional[str] = None
    runtime_packages: typing.Optional[typing.List[str]] = None
    builder_options: typing.Optional[typing.Dict[str, typing.Any]] = None
    builder_config: typing.Optional[typing.Dict[str, typing.Any]] = None

    def __post_init__(self):
        self.name = self.name.lower()
        self._is_force_push = os.environ.get("FLYTE_FORCE_PUSH_IMAGE_SPEC", "FALSE").lower() in ("true", "1", "yes", "t")
        if self.registry:
            self.registry = self.registry.lower()
            if not re.match(r"^(localhost:\d{1,5}|([a-z\d\._-]+)(:\d{1,5})?)(/[\w\.-]+)*$", self.registry):
                raise ValueError(
                    f"Invalid container registry name: '{self.registry}'.\n Expected formats:\n"
                    f"- 'localhost:30000' (for local registries)\n"
                    f"- 'ghcr.io/username' (for GitHub Container Registry)\n"
                    f"- 'docker.io/username' (for docker hub)\n"
                )
        if self.platform is None:
            if self.registry and self.registry.lower().startswith("localhost:") and _platform.machine().lower() in ("arm64", "aarch64"):
                self.platform = "linux/arm64"
            else:
                self.platform = "linux/amd64"
        if self.source_root is not None:
            self.source_copy_mode = self.source_copy_mode or CopyFileDetection.LOADED_MODULES
        for parameter in _LIST_FIELDS:
            value = getattr(self, parameter)
            if not (value is None or (isinstance(value, list) and all(isinstance(v, str) for v in value))):
                raise ValueError(f"{parameter} must be a list of strings or None")
        if self.pip_secret_mounts is not None:
            if not (
                isinstance(self.pip_secret_mounts, list)
                and all(isinstance(v, tuple) and len(v) == 2 and all(isinstance(vv, str) for vv in v) for v in self.pip_secret_mounts)
            ):
                raise ValueError("pip_secret_mounts must be a list of tuples of two strings or None")
        if self.builder_options is not None and not isinstance(self.builder_options, dict):
            raise ValueError("builder_options must be a dictionary or None")

    def __hash__(self):
        return hash(repr(self))

    def _update_attribute(self, attr_name, values):
        current_value = _copy.deepcopy(getattr(self, attr_name))
        if current_value is None:
            current_value = {} if isinstance(values, dict) else []
        if isinstance(values, str):
            if not isinstance(current_value, list):
                raise TypeError(f"Cannot append string to non-list attribute {attr_name}")
            current_value.append(values)
        elif isinstance(values, list):
            if not isinstance(current_value, list):
                raise TypeError(f"Cannot extend non-list attribute {attr_name}")
            current_value.extend(values)
        elif isinstance(values, dict):
            if not isinstance(current_value, dict):
                raise TypeError(f"Cannot update non-dict attribute {attr_name}")
            current_value.update(values)
        return dataclasses.replace(self, **{attr_name: current_value})

    def with_commands(self, commands):
        return self._update_attribute("commands", commands)

    def with_packages(self, packages):
        return self._update_attribute("packages", packages)

    def with_apt_packages(self, apt_packages):
        return self._update_attribute("apt_packages", apt_packages)

    def with_copy(self, src):
        return self._update_attribute("copy", src)

    def with_runtime_packages(self, runtime_packages):
        return self._update_attribute("runtime_packages", runtime_packages)

    def with_builder_options(self, builder_options):
        return self._update_attribute("builder_options", builder_options)

    def force_push(self):
        copied = _copy.deepcopy(self)
        copied._is_force_push = True
        return copied

    @classmethod
    def from_env(cls, *, pinned_packages=None, **kwargs):
        from importlib.metadata import version

        if kwargs.get("python_version") is not None:
            raise ValueError("python_version can not be used with ` +
	'`from_env`' +
	` because it will be inferred from the environment")
        packages = kwargs.pop("packages") if "packages" in kwargs else []
        for package in pinned_packages or []:
            packages.append(f"{package}=={version(package)}")
        return ImageSpec(packages=packages, python_version=f"{sys.version_info.major}.{sys.version_info.minor}", **kwargs)


ImageSpec.__module__ = "flytekit.image_spec.image_spec"


class _Placeholder(type):
    """A name the stand-in does not model: harmless to call, decorate with, subclass or annotate with."""

    def __getattr__(cls, name):
        if name.startswith("__"):
            raise AttributeError(name)
        return _placeholder(f"{cls.__name__}.{name}")

    def __call__(cls, *args, **kwargs):
        if len(args) == 1 and not kwargs and callable(args[0]) and not isinstance(args[0], _Placeholder):
            return args[0]
        return _placeholder(cls.__name__)

    def __getitem__(cls, item):
        return cls

    def __enter__(cls):
        return cls

    def __exit__(cls, *exc):
        return False


def _placeholder(name):
    return _Placeholder(name, (), {"__module__": "flytekit"})


_EXPORTS = {
    "flytekit": {"ImageSpec": ImageSpec},
    "union": {"ImageSpec": ImageSpec},
    "flytekit.image_spec": {"ImageSpec": ImageSpec},
    "flytekit.image_spec.image_spec": {"ImageSpec": ImageSpec, "CopyFileDetection": CopyFileDetection},
    "flytekit.constants": {"CopyFileDetection": CopyFileDetection},
}


class _Finder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    def find_spec(self, fullname, path, target=None):
        if fullname.split(".")[0] in ROOTS:
            return importlib.util.spec_from_loader(fullname, self, is_package=True)
        return None

    def create_module(self, spec):
        return None

    def exec_module(self, module):
        module.__dict__.update(_EXPORTS.get(module.__name__, {}))

        def __getattr__(name):
            # __version__ too is a placeholder: a spec built from it must not look like a real value.
            if name.startswith("__") and name != "__version__":
                raise AttributeError(name)
            return _placeholder(name)

        module.__getattr__ = __getattr__


def install():
    sys.meta_path.insert(0, _Finder())
`;

/**
 * Loads the module the way `union register` does and prints one line: the marker and a JSON record
 * of every ImageSpec it declares (see module-reader.ts for the encoding). argv: the module file.
 * stdin: STAND_IN, used when flytekit does not import.
 */
export const READER = String.raw`
import dataclasses, enum, importlib, importlib.util, json, os, sys, traceback

MARK = "IMAGESPEC_GAR_SPECS "
module_file = os.path.abspath(sys.argv[1])
stand_in_source = sys.stdin.read()
out = sys.stdout


def emit(record):
    out.write(MARK + json.dumps(record) + "\n")
    out.flush()
    sys.exit(0)


def where(error):
    """file:line of the innermost frame in the team's files (not the SDK's, not this driver's)."""
    if isinstance(error, SyntaxError) and error.filename:
        return error.filename, error.lineno
    frames = [f for f in traceback.extract_tb(error.__traceback__) if not f.filename.startswith("<")]
    installed = ("site-packages", "dist-packages")
    ours = [
        f
        for f in frames
        if (os.path.abspath(f.filename).startswith(os.getcwd() + os.sep) or os.path.abspath(f.filename) == module_file)
        and not any(part in f.filename.split(os.sep) for part in installed)
    ]
    frame = (ours or frames or [None])[-1]
    return (frame.filename, frame.lineno) if frame else (module_file, None)


def failure(error):
    file, line = where(error)
    text = traceback.format_exception_only(type(error), error)[-1].strip()
    # The exception's own first line: flytekit's registry error goes on with a list of examples.
    return {"file": file, "line": line, "message": text.splitlines()[0] if text else type(error).__name__}


via = "flytekit"
sdk_version = None
try:
    import flytekit.image_spec.image_spec as sdk

    SpecClass = sdk.ImageSpec
    import flytekit

    sdk_version = str(getattr(flytekit, "__version__", "") or "unknown")
except ModuleNotFoundError as error:
    if error.name not in ("flytekit", "flytekit.image_spec", "flytekit.image_spec.image_spec"):
        emit({"broken": "flytekit: %s" % error})
    for name in [n for n in sys.modules if n.split(".")[0] == "flytekit"]:
        del sys.modules[name]
    via = "stand-in"
    stand_in = type(sys)("_imagespec_gar_stand_in")
    exec(compile(stand_in_source, "<imagespec-gar stand-in>", "exec"), stand_in.__dict__)
    stand_in.install()
    SpecClass = stand_in.ImageSpec
except Exception as error:
    emit({"broken": "flytekit: %s: %s" % (type(error).__name__, error)})

# As union register / pyflyte: the top folder of the module's package on sys.path, the dotted name imported.
folder = os.path.dirname(module_file)
parts = [os.path.splitext(os.path.basename(module_file))[0]]
while os.path.exists(os.path.join(folder, "__init__.py")):
    parts.insert(0, os.path.basename(folder))
    folder = os.path.dirname(folder)
sys.path.insert(0, folder)
project = os.path.abspath(folder) + os.sep
before = set(sys.modules)


def load():
    if len(parts) > 1:
        return importlib.import_module(".".join(parts))
    loaded = importlib.util.spec_from_file_location(parts[-1], module_file)
    module = importlib.util.module_from_spec(loaded)
    sys.modules[parts[-1]] = module
    loaded.loader.exec_module(module)
    return module


# Without flytekit this Python is not the team's environment: a third-party import it lacks
# (pandas for a task's signature) becomes a placeholder module and the load starts again; a
# spec field made from one is reported, not hashed.
missing = []
while True:
    try:
        module = load()
        break
    except ModuleNotFoundError as error:
        top = (error.name or "").split(".")[0]
        ours = any(os.path.exists(os.path.join(folder, top + suffix)) for suffix in ("", ".py"))
        if via != "stand-in" or not top or ours or top in missing or len(missing) >= 50:
            emit({"error": failure(error)})
        missing.append(top)
        stand_in.ROOTS.add(top)
        # Forget the team's half-loaded modules (only theirs: an extension module cannot load twice).
        for name in set(sys.modules) - before:
            file = getattr(sys.modules[name], "__file__", None) or ""
            if os.path.abspath(file).startswith(project) or name == ".".join(parts) or name == parts[-1]:
                del sys.modules[name]
    except BaseException as error:
        emit({"error": failure(error)})

is_spec = lambda value: isinstance(value, SpecClass)
specs, names, index = [], [], {}


def visit(spec, name):
    key = id(spec)
    if key in index:
        if name and name not in names[index[key]]:
            names[index[key]].append(name)
        return index[key]
    index[key] = len(specs)
    specs.append(spec)
    names.append([name] if name else [])
    return index[key]


for name, value in list(vars(module).items()):
    if is_spec(value) and not name.startswith("__"):
        visit(value, name)
position = 0
while position < len(specs):
    base = getattr(specs[position], "base_image", None)
    if is_spec(base):
        visit(base, None)
    position += 1


placeholder = getattr(stand_in, "_Placeholder", None) if via == "stand-in" else None
from_missing = set()


def encode(value):
    kind = type(value)
    if placeholder is not None and isinstance(value, placeholder):
        from_missing.add(value.__name__)
        return {"$repr": repr(value)}
    if value is None or kind in (bool, str):
        return value
    if kind is int:
        return value if abs(value) < 2 ** 53 else {"$repr": repr(value)}
    if kind is list:
        return [encode(item) for item in value]
    if kind is dict:
        return {"$dict": [[encode(k), encode(v)] for k, v in value.items()]}
    if is_spec(value):
        return {"$spec": index[id(value)]}
    if isinstance(value, enum.Enum):
        return {"$enum": type(value).__name__, "member": value.name, "repr": repr(value)}
    if isinstance(value, os.PathLike):
        return {"$path": os.fspath(value), "repr": repr(value)}
    return {"$repr": repr(value)}


records = []
for position, spec in enumerate(specs):
    fields, placeholders = [], []
    for field in dataclasses.fields(spec):
        from_missing.clear()
        fields.append([field.name, encode(getattr(spec, field.name))])
        if from_missing:
            placeholders.append(field.name)
    record = {"variables": names[position], "fields": fields}
    if placeholders:
        record["placeholders"] = placeholders
    if via == "flytekit":
        mode = getattr(spec, "source_copy_mode", None)
        mode = getattr(mode, "name", None)
        try:
            if mode == "ALL" and spec.source_root:
                from flytekit.tools.ignore import DockerIgnore, GitIgnore, IgnoreGroup, StandardIgnore
                from flytekit.tools.script_mode import ls_files

                ignore = IgnoreGroup(spec.source_root, [GitIgnore, DockerIgnore, StandardIgnore])
                record["source_root_digest"] = ls_files(str(spec.source_root), spec.source_copy_mode, deref_symlinks=False, ignore_group=ignore)[1]
            # With LOADED_MODULES the tag would digest this reader's imports, not union register's.
            if mode != "LOADED_MODULES":
                record["image_name"] = spec.image_name()
        except Exception as error:
            record["sdk_error"] = failure(error)
    records.append(record)
emit({"via": via, "sdk_version": sdk_version, "missing": missing, "specs": records})
`;
