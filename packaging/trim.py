"""What the packaged app leaves out: the one list that level.spec trims by and check_trim.py checks.

level.spec drops these modules from PyInstaller's analysis and these files from the collected
binaries and datas. packaging/check_trim.py runs the self-test and a CLI `analyze` in the build
environment, lists every module and shared library they load, and fails the build if any of
them is trimmed here — so a new release of a dependency that starts importing something trimmed
stops the build instead of breaking the bundle (transformers 5.24 and
torch.testing._internal.distributed did exactly that).
"""

from __future__ import annotations

import re

# Optional imports of libraries Level does not use; each would pull in more of its own. (sympy,
# jinja2, rich and pygments look optional but are imported on Level's paths: kept. pandas is not
# in packaging/constraints.txt at all, so a build from the lock has none.)
EXCLUDED_MODULES = [
    "tkinter", "_tkinter", "IPython", "matplotlib", "pytest", "_pytest", "pytestqt",
    "faiss", "hdbscan", "fast_hdbscan", "model2vec", "openTSNE",  # the benchmarks' extras
    "plotly", "bokeh", "datashader", "holoviews",  # umap.plot only
    "tensorboard", "torch.utils.tensorboard", "torchvision", "torchaudio",
    "hf_xet",  # Hugging Face's upload/download accelerator: the app never downloads
    "pyarrow.flight", "pyarrow._flight", "pyarrow._s3fs", "pyarrow._gcsfs", "pyarrow._azurefs",
    "pyarrow._hdfs",  # remote file systems (pyarrow.fs imports them only if present)
    # torch's own test suites, which nothing on Level's path imports. Not
    # torch.testing._internal.distributed: torch.distributed.fsdp imports its fake_pg, and
    # transformers >= 5.2x imports torch.distributed.fsdp on the way to PreTrainedModel.
    "torch.testing._internal.opinfo", "torch.testing._internal.generated",
    "torch.testing._internal.optests", "torch.testing._internal.test_module",
    "torch.testing._internal.codegen",
    "PySide6.QtNetwork", "PySide6.QtDBus",  # bindings nobody imports (libQt6DBus itself stays)
]

# Files dropped from the collected datas and binaries (paths inside the bundle, '/'-separated).
TRIMMED_FILES = [
    r"(^|/)tests?/",  # test suites and their data (numpy, scipy, sklearn, pyarrow, ...)
    r"^torch/(test|include|share)/",  # torch's C++ tests, headers and cmake files
    r"^torch/bin/(?!torch_shm_manager$)",  # its test programs and protoc (`import torch` needs
                                          # torch_shm_manager)
    r"^torch/lib/lib(jitbackend_test|torchbind_test|backend_with_compiler|aoti_custom_ops)\.so",
    r"^torch/testing/_internal/(opinfo|generated|optests|test_module|codegen)/",
    r"\.(h|hpp|cuh|c|cc|cpp|pyi|pxd|pyx|cmake|lib|a)$",  # sources and headers of compiled code
    r"^pyarrow/(include|src)/",
    r"^pyarrow/lib(arrow_flight|arrow_python_flight|arrow_s3)\.so",  # go with the modules above
    r"^PySide6/Qt/translations/",  # Level's window is English only and loads no translator
    # Qt plugins Level cannot use: VNC/framebuffer platforms, network status, TLS, touch input
    # from the network, and the image formats it never opens (PNG, JPEG, GIF, ICO, SVG stay).
    r"^PySide6/Qt/plugins/(platforms/libq(vnc|linuxfb|vkkhrdisplay)\.so|networkinformation/|tls/"
    r"|generic/libqtuiotouchplugin|imageformats/libq(tiff|webp|icns|tga|wbmp)\.so)",
    r"^PySide6/Qt/lib/libQt6Network\.",  # only the plugins above need it
]
# A CPU torch never loads these; a CUDA torch does, so they stay on a CUDA build machine.
CUDA_FILES = [r"(^|/)(nvidia|triton)/", r"(^|/)lib(cuda|cudart|cublas|cublasLt|cudnn|cufft|"
              r"cufile|curand|cusolver|cusparse|cusparseLt|cupti|nccl|nvrtc|nvJitLink|"
              r"nvToolsExt|nvshmem)[^/]*\.so"]

# The largest libraries ship with their symbol tables; `strip --strip-unneeded` keeps what the
# dynamic linker needs and removes about a fifth of them. Only these named ones are stripped:
# every one is loaded by the self-test, so a library the stripping broke would show there.
STRIPPED_FILES = ["torch/lib/libtorch_cpu.so", "torch/lib/libtorch_python.so",
                  "llvmlite/binding/libllvmlite.so", "pyarrow/libarrow.so.*",
                  "pyarrow/libarrow_compute.so.*", "pyarrow/libparquet.so.*"]


def trimmed_files(cuda_build: bool) -> re.Pattern[str]:
    """One pattern for every file trimming drops (CUDA's libraries only from a CPU build)."""
    patterns = TRIMMED_FILES + ([] if cuda_build else CUDA_FILES)
    return re.compile("|".join(f"(?:{p})" for p in patterns))


def excluded_module(name: str) -> str | None:
    """The entry of EXCLUDED_MODULES that drops module `name` (None when it is kept)."""
    for excluded in EXCLUDED_MODULES:
        if name == excluded or name.startswith(excluded + "."):
            return excluded
    return None
