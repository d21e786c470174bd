"""The packaged app's trimming list and its check (packaging/trim.py, packaging/check_trim.py),
and the self-test's guard against a warm cache; issue 21: a trimmed module broke the bundle."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from level_desktop import selftest
from level_desktop.core.settings import DEFAULT_MODEL

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "packaging"))
from check_trim import bundle_path, violations
from trim import excluded_module, trimmed_files

SITE = "/env/lib/python3.11/site-packages"


def record(modules: dict[str, str | None], libraries: list[str] = ()) -> dict:
    return {"modules": modules, "libraries": list(libraries), "path": [SITE], "torch_cuda": None}


def test_torch_distributed_test_helpers_are_kept() -> None:
    """transformers 5.24 imports torch.distributed.fsdp, which imports fake_pg at module level."""
    name = "torch.testing._internal.distributed.fake_pg"
    assert excluded_module(name) is None
    assert not trimmed_files(cuda_build=False).search(name.replace(".", "/") + ".py")
    assert violations(record({name: f"{SITE}/{name.replace('.', '/')}.py"}))[0] == []


def test_an_imported_excluded_module_is_reported() -> None:
    found, n_modules, _ = violations(record({"tkinter.ttk": "/usr/lib/python3.11/tkinter/ttk.py",
                                             "numpy": f"{SITE}/numpy/__init__.py"}))
    assert n_modules == 2
    assert found == ["module tkinter.ttk is imported, but EXCLUDED_MODULES drops 'tkinter'"]


def test_a_loaded_trimmed_file_is_reported() -> None:
    found, _, n_libraries = violations(record(
        {"scipy.tests.helper": f"{SITE}/scipy/tests/helper.py"},
        [f"{SITE}/PySide6/Qt/lib/libQt6Network.so.6", "/usr/lib/x86_64-linux-gnu/libc.so.6"]))
    assert n_libraries == 2
    assert found == ["module scipy.tests.helper is imported, but TRIMMED_FILES drops "
                     "scipy/tests/helper.py",
                     "library PySide6/Qt/lib/libQt6Network.so.6 is loaded, but TRIMMED_FILES "
                     "drops it"]


def test_bundle_path_is_relative_to_the_deepest_path_entry() -> None:
    roots = ["/env/lib/python3.11", SITE]
    assert bundle_path(f"{SITE}/torch/lib/libtorch_cpu.so", roots) == "torch/lib/libtorch_cpu.so"
    assert bundle_path("/usr/lib/libGL.so.1", roots) is None


@pytest.mark.parametrize(("device", "model", "reason"), [
    ("cache", DEFAULT_MODEL, "embedding cache"),
    ("cpu", "fast", "not the bundled"),
])
def test_self_test_fails_unless_the_model_ran(device: str, model: str, reason: str) -> None:
    with pytest.raises(selftest.SelfTestError, match=reason):
        selftest.check_model_ran(SimpleNamespace(device=device, model=model), DEFAULT_MODEL)
    selftest.check_model_ran(SimpleNamespace(device="cpu", model=DEFAULT_MODEL), DEFAULT_MODEL)


def test_self_test_cache_folder_starts_empty_and_goes(monkeypatch: pytest.MonkeyPatch,
                                                      tmp_path: Path) -> None:
    monkeypatch.setenv("LEVEL_CACHE_DIR", str(tmp_path))
    (tmp_path / "warm").write_text("a cached vector")
    with selftest.empty_cache_dir() as folder:
        assert os.environ["LEVEL_CACHE_DIR"] == str(folder)
        assert list(folder.iterdir()) == []
    assert os.environ["LEVEL_CACHE_DIR"] == str(tmp_path)
    assert not folder.exists()
