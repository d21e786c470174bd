"""The app's entry point sends each command line to the window, the CLI or the self-test."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from level_desktop import app, selftest


@pytest.fixture(autouse=True)
def restore_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """app.main() sets the offline and quiet variables; undo that after each test."""
    for name in (*app.OFFLINE_VARIABLES, *app.QUIET_VARIABLES):
        if name in os.environ:
            monkeypatch.setenv(name, os.environ[name])
        else:
            monkeypatch.delenv(name, raising=False)


@pytest.mark.parametrize(("argv", "mode"), [
    ([], "window"),
    (["data.csv"], "window"),
    (["~/projects/news.level"], "window"),
    (["analyze"], "cli"),
    (["analyze", "data.csv", "-o", "out.level"], "cli"),
    (["info", "p.level"], "cli"),
    (["weights", "p.level", "--flatten"], "cli"),
    (["export", "p.level", "--weighted", "w.csv"], "cli"),
    (["relabel", "p.level"], "cli"),
    (["evaluate", "p.level", "--label-column", "section"], "cli"),
    (["-h"], "cli"),
    (["--help"], "cli"),
    (["--self-test"], "self-test"),
    (["--version"], "version"),
])
def test_choose_mode(argv: list[str], mode: str) -> None:
    assert app.choose_mode(argv) == mode


def test_a_file_named_like_a_command_is_still_a_subcommand_only_in_first_place() -> None:
    assert app.choose_mode(["data.csv", "analyze"]) == "window"


def test_cli_commands_are_the_cli_parsers_own() -> None:
    from level_desktop.cli import build_parser

    sub = next(a for a in build_parser()._actions if a.dest == "command")
    assert set(sub.choices) == app.CLI_COMMANDS


def test_main_hands_cli_commands_to_the_cli(monkeypatch: pytest.MonkeyPatch) -> None:
    import level_desktop.cli

    seen: list[list[str]] = []
    monkeypatch.setattr(level_desktop.cli, "main", lambda argv: seen.append(argv) or 7)
    monkeypatch.setattr(app, "run_window", lambda argv: pytest.fail("the window was started"))
    assert app.main(["info", "p.level"]) == 7
    assert seen == [["info", "p.level"]]


def test_main_opens_the_window_otherwise(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[list[str]] = []
    monkeypatch.setattr(app, "run_window", lambda argv: seen.append(argv) or 0)
    assert app.main([]) == 0
    assert app.main(["data.csv"]) == 0
    assert seen == [[], ["data.csv"]]


def test_main_runs_the_self_test(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[list[str]] = []
    monkeypatch.setattr(selftest, "main", lambda argv: seen.append(argv) or 0)
    monkeypatch.setattr(app, "run_window", lambda argv: pytest.fail("the window was started"))
    assert app.main(["--self-test", "--data", "x.csv"]) == 0
    assert seen == [["--data", "x.csv"]]


def test_help_and_version_need_no_qt() -> None:
    code = ("import sys; from level_desktop.app import main; "
            "codes = [main(['--help']), main(['--version'])]; "
            "print(codes, [m for m in sys.modules if m.split('.')[0] in ('PySide6', 'torch')])")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "open the window" in done.stdout
    assert "analyze" in done.stdout
    assert "Level 0." in done.stdout
    assert done.stdout.strip().endswith("[0, 0] []")


def test_usage_errors_return_the_cli_status(capsys: pytest.CaptureFixture[str]) -> None:
    assert app.main(["analyze"]) == 2  # argparse: the input file is missing
    assert "input" in capsys.readouterr().err


def test_packaged_app_is_always_offline(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    monkeypatch.delenv("TOKENIZERS_PARALLELISM", raising=False)
    monkeypatch.setenv("TRANSFORMERS_VERBOSITY", "info")
    app.prepare_environment(frozen=False)
    assert os.environ["HF_HUB_OFFLINE"] == "0"  # a source install respects the user's choice
    assert os.environ["TOKENIZERS_PARALLELISM"] == "false"
    assert os.environ["TRANSFORMERS_VERBOSITY"] == "info"
    app.prepare_environment(frozen=True)
    assert os.environ["HF_HUB_OFFLINE"] == "1"
    assert os.environ["TRANSFORMERS_OFFLINE"] == "1"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="X11 display check")
def test_self_test_without_a_display_fails_at_once(monkeypatch: pytest.MonkeyPatch,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    for name in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(selftest, "run_analysis", lambda path: pytest.fail("it analysed first"))
    assert selftest.main([]) == selftest.EXIT_FAILED
    err = capsys.readouterr().err
    assert "FAILED" in err
    assert "xvfb-run" in err


def test_self_test_refuses_the_offscreen_platform(monkeypatch: pytest.MonkeyPatch,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("QT_QPA_PLATFORM", "offscreen")
    monkeypatch.setattr(selftest, "run_analysis", lambda path: pytest.fail("it analysed first"))
    assert selftest.main([]) == selftest.EXIT_FAILED
    assert "cannot host the OpenGL terrain view" in capsys.readouterr().err


def test_sample_ships_with_the_package() -> None:
    path = selftest.sample_path()
    assert path.is_file()
    assert path.read_text(encoding="utf-8").startswith("package,section,description")


@pytest.mark.gui
@pytest.mark.slow
def test_self_test_runs_end_to_end() -> None:
    """`python -m level_desktop --self-test` under the current display, in its own process."""
    if not os.environ.get("DISPLAY"):
        pytest.skip('needs an X display: run under xvfb-run -a -s "-screen 0 1280x800x24"')
    done = subprocess.run([sys.executable, "-X", "faulthandler", "-m", "level_desktop",
                           "--self-test"], capture_output=True, text=True, timeout=1200,
                          env={**os.environ, "PYTHONFAULTHANDLER": "1"})
    assert done.returncode == 0, done.stdout + done.stderr[-6000:]
    out = done.stdout
    assert "self-test passed" in out
    assert "600 rows with text" in out
    assert "model: all-MiniLM-L6-v2" in out
    assert "render: 800x600 frame on xcb" in out
    clusters = next(line for line in out.splitlines() if line.startswith("clusters: "))
    assert int(clusters.split()[1]) >= 2
