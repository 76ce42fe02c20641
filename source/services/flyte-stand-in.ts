/**
 * Python source the Flyte 2 module reader runs (TS strings so the bundle carries them).
 *
 * FLYTE_STAND_IN is a recording stand-in for the `flyte` SDK, used only when the Python on PATH
 * cannot import flyte (it cannot be installed on the machines this tool is tested on). It follows
 * flyte-sdk 7e2d4231 (v2.6.5) src/flyte/_image.py where that changes what the module means or
 * whether it loads: `Image` cannot be instantiated directly; `from_debian_base`, `from_base`,
 * `clone` and the `with_*` calls the wizard writes take the SDK's parameters (a misspelt keyword
 * fails as it does with flyte), a layer needs a named and extendable image (`from_base` is not
 * extendable until cloned with `extendable=True`), `with_requirements` wants a .txt file, list
 * arguments become tuples as the SDK's `_ensure_tuple` makes them. It records the debian base's
 * Python and flyte versions instead of resolving the base image (that needs the installed
 * flyte's version: TypeScript resolves it). Other `with_*` calls record an unsupported layer.
 * `TaskEnvironment` checks its name as flyte does and keeps `image`; `@env.task` keeps the
 * function. Any other name in `flyte` or its submodules is a harmless placeholder.
 */
export const FLYTE_STAND_IN = `
import dataclasses
import importlib.abc
import importlib.util
import re
import sys
import typing
from pathlib import Path


@dataclasses.dataclass(frozen=True)
class PipPackages:
    packages: typing.Optional[tuple] = None
    index_url: typing.Optional[str] = None
    extra_index_urls: typing.Optional[tuple] = None
    pre: bool = False
    extra_args: typing.Optional[str] = None
    secret_mounts: typing.Optional[tuple] = None


@dataclasses.dataclass(frozen=True)
class Requirements(PipPackages):
    file: Path = None


@dataclasses.dataclass(frozen=True)
class AptPackages:
    packages: tuple = ()
    secret_mounts: typing.Optional[tuple] = None


@dataclasses.dataclass(frozen=True)
class Commands:
    commands: tuple = ()
    secret_mounts: typing.Optional[tuple] = None


@dataclasses.dataclass(frozen=True)
class Env:
    env_vars: tuple = ()


@dataclasses.dataclass(frozen=True)
class Unsupported:
    method: str


def _ensure_tuple(val):
    if isinstance(val, list):
        return tuple(val)
    if isinstance(val, tuple):
        return val
    return (val,)


class Image:
    _token = object()

    def __init__(self, _guard=None, **fields):
        if _guard is not Image._token:
            raise TypeError("Direct instantiation of Image not allowed, please use one of the various from_...() methods instead")
        self.base_image = fields.get("base_image")
        self.debian = fields.get("debian")
        self.registry = fields.get("registry")
        self.name = fields.get("name")
        self.platform = fields.get("platform", ("linux/amd64",))
        self.extendable = fields.get("extendable", False)
        self._is_cloned = fields.get("_is_cloned", False)
        self._layers = fields.get("_layers", ())

    @classmethod
    def from_debian_base(cls, python_version=None, flyte_version=None, install_flyte=True, registry=None, registry_secret=None, name=None, platform=None):
        if python_version is None:
            python_version = (sys.version_info.major, sys.version_info.minor)
        debian = {"python_version": python_version, "flyte_version": flyte_version, "install_flyte": install_flyte}
        image = cls(cls._token, debian=debian, name="flyte", platform=platform or ("linux/amd64", "linux/arm64"), extendable=True)
        if registry or name:
            return image.clone(registry=registry, name=name, registry_secret=registry_secret, extendable=True)
        return image

    @classmethod
    def from_base(cls, image_uri):
        return cls(cls._token, base_image=image_uri)

    def clone(self, registry=None, registry_secret=None, name=None, base_image=None, python_version=None, addl_layer=None, extendable=None, platform=None):
        if addl_layer and not self.extendable:
            raise ValueError("Cannot add additional layers to a non-extendable image. Please create the image with extendable=True in the clone() call.")
        name = name or self.name
        if addl_layer and not name:
            raise ValueError("Cannot add additional layer %r to an image without name. Please first clone()." % (addl_layer,))
        return Image(
            Image._token,
            base_image=base_image or self.base_image,
            debian=None if base_image else self.debian,
            registry=registry or self.registry,
            name=name,
            platform=_ensure_tuple(platform) if platform else self.platform,
            extendable=extendable if extendable is not None else self.extendable,
            _is_cloned=True,
            _layers=(*self._layers, addl_layer) if addl_layer else self._layers,
        )

    def with_pip_packages(self, *packages, index_url=None, extra_index_urls=None, pre=False, extra_args=None, secret_mounts=None):
        extra = _ensure_tuple(extra_index_urls) if extra_index_urls else None
        mounts = _ensure_tuple(secret_mounts) if secret_mounts else None
        return self.clone(addl_layer=PipPackages(packages=packages or None, index_url=index_url, extra_index_urls=extra,
                                                 pre=pre, extra_args=extra_args, secret_mounts=mounts))

    def with_requirements(self, file, index_url=None, extra_index_urls=None, pre=False, extra_args=None, secret_mounts=None):
        file = Path(file) if isinstance(file, str) else file
        if file.suffix != ".txt":
            raise ValueError("Requirements file %s must have a .txt extension" % file)
        extra = _ensure_tuple(extra_index_urls) if extra_index_urls else None
        mounts = _ensure_tuple(secret_mounts) if secret_mounts else None
        return self.clone(addl_layer=Requirements(file=file, index_url=index_url, extra_index_urls=extra, pre=pre, extra_args=extra_args, secret_mounts=mounts))

    def with_apt_packages(self, *packages, secret_mounts=None):
        return self.clone(addl_layer=AptPackages(packages=packages, secret_mounts=_ensure_tuple(secret_mounts) if secret_mounts else None))

    def with_env_vars(self, env_vars):
        return self.clone(addl_layer=Env(env_vars=tuple((k, v) for k, v in env_vars.items())))

    def with_commands(self, commands, secret_mounts=None):
        return self.clone(addl_layer=Commands(commands=_ensure_tuple(commands), secret_mounts=_ensure_tuple(secret_mounts) if secret_mounts else None))

    def __getattr__(self, attribute):
        if attribute.startswith("with_"):
            return lambda *args, **kwargs: self.clone(addl_layer=Unsupported(method=attribute))
        raise AttributeError(attribute)


class TaskEnvironment:
    def __init__(self, name, image="auto", **kwargs):
        if not re.fullmatch(r"^[a-z0-9]+([_-][a-z0-9]+)*$", name):
            raise ValueError("Environment name '%s' must be in snake_case or kebab-case format." % name)
        if not isinstance(image, (str, Image)) and image is not None:
            raise TypeError("Expected image to be of type str or Image, got %s" % type(image))
        self.name = name
        self.image = image

    def task(self, function=None, **kwargs):
        return function if function is not None else (lambda inner: inner)


class _Placeholder:
    def __init__(self, *args, **kwargs):
        pass

    def __call__(self, *args, **kwargs):
        if len(args) == 1 and callable(args[0]) and not kwargs:
            return args[0]
        return _Placeholder()

    def __getattr__(self, name):
        return _Placeholder()


class _Finder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    def find_spec(self, fullname, path, target=None):
        if fullname.split(".")[0] == "flyte" and fullname != "flyte":
            return importlib.util.spec_from_loader(fullname, self, is_package=True)
        return None

    def create_module(self, spec):
        module = type(sys)(spec.name)
        module.__path__ = []
        module.__getattr__ = lambda name: _Placeholder
        return module

    def exec_module(self, module):
        pass


def install():
    flyte = type(sys)("flyte")
    flyte.__path__ = []
    flyte.__version__ = None
    flyte.Image = Image
    flyte.TaskEnvironment = TaskEnvironment
    flyte.__getattr__ = lambda name: _Placeholder
    flyte._imagespec_gar_stand_in = True
    sys.modules["flyte"] = flyte
    sys.meta_path.insert(0, _Finder())
`;

/**
 * Loads the module the way `flyte build FILE ENV` does (its folder on sys.path) and prints one
 * line: the marker and a JSON record of every module-level flyte.Image and TaskEnvironment.
 * argv: the module file. stdin: FLYTE_STAND_IN, used when flyte does not import.
 */
export const FLYTE_READER = String.raw`
import importlib.util, json, os, sys, traceback

MARK = "IMAGESPEC_GAR_FLYTE "
module_file = os.path.abspath(sys.argv[1])
stand_in_source = sys.stdin.read()


def emit(record):
    sys.stdout.write(MARK + json.dumps(record) + "\n")
    sys.stdout.flush()
    sys.exit(0)


def failure(error):
    frames = [f for f in traceback.extract_tb(error.__traceback__) if os.path.abspath(f.filename) == module_file]
    line = error.lineno if isinstance(error, SyntaxError) else (frames[-1].lineno if frames else None)
    text = traceback.format_exception_only(type(error), error)[-1].strip()
    return {"file": module_file, "line": line, "message": text.splitlines()[0] if text else type(error).__name__}


via, version = "flyte", None
try:
    import flyte
    from flyte import Image, TaskEnvironment

    version = str(getattr(flyte, "__version__", "") or "unknown")
except ModuleNotFoundError as error:
    if error.name != "flyte":
        emit({"broken": "flyte: %s" % error})
    via = "stand-in"
    stand_in = type(sys)("_imagespec_gar_flyte_stand_in")
    exec(compile(stand_in_source, "<imagespec-gar flyte stand-in>", "exec"), stand_in.__dict__)
    stand_in.install()
    Image, TaskEnvironment = stand_in.Image, stand_in.TaskEnvironment
except Exception as error:
    emit({"broken": "flyte: %s: %s" % (type(error).__name__, error)})

sys.path.insert(0, os.path.dirname(module_file))
try:
    spec = importlib.util.spec_from_file_location(os.path.splitext(os.path.basename(module_file))[0], module_file)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
except BaseException as error:
    emit({"error": failure(error)})


def pip(layer):
    out = {}
    if layer.index_url:
        out["indexUrl"] = layer.index_url
    if layer.extra_index_urls:
        out["extraIndexUrls"] = list(layer.extra_index_urls)
    if layer.pre:
        out["pre"] = True
    if layer.extra_args:
        out["extraArgs"] = layer.extra_args
    return out


def encode_layer(layer):
    kind = type(layer).__name__
    if getattr(layer, "secret_mounts", None):
        return {"kind": "unsupported", "layer": kind + " with secret_mounts"}
    if kind == "Requirements":
        return {"kind": "requirements", "file": os.fspath(layer.file), **pip(layer)}
    if kind == "PipPackages":
        return {"kind": "pip_packages", "packages": list(layer.packages or ()), **pip(layer)}
    if kind == "AptPackages":
        return {"kind": "apt_packages", "packages": list(layer.packages)}
    if kind == "Env":
        return {"kind": "env_vars", "env": [[k, v] for k, v in layer.env_vars]}
    if kind == "Commands":
        return {"kind": "commands", "commands": list(layer.commands)}
    return {"kind": "unsupported", "layer": getattr(layer, "method", kind)}


images, names = [], {}
environments = []
for variable, value in list(vars(module).items()):
    if isinstance(value, Image):
        if id(value) in names:
            images[names[id(value)]]["variables"].append(variable)
            continue
        names[id(value)] = len(images)
        record = {"variables": [variable], "name": value.name, "registry": value.registry,
                  "platform": list(value.platform or ()), "cloned": bool(value._is_cloned)}
        debian = getattr(value, "debian", None)
        if via == "stand-in" and debian is not None:
            record["debian"] = {"python_version": list(debian["python_version"]), "flyte_version": debian["flyte_version"],
                                "install_flyte": debian["install_flyte"]}
        else:
            record["base_image"] = value.base_image
        record["layers"] = [encode_layer(layer) for layer in value._layers]
        if via == "flyte":
            try:
                record["uri"] = value.uri
            except Exception as error:
                record["sdk_error"] = failure(error)
        images.append(record)
    elif isinstance(value, TaskEnvironment):
        image = getattr(value, "image", None)
        environments.append({"variable": variable, "name": value.name, "image": id(image)})
for environment in environments:
    at = names.get(environment["image"])
    environment["image"] = images[at]["variables"][0] if at is not None else None
emit({"via": via, "version": version, "images": images, "environments": environments})
`;
