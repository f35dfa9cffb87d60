"""The ``simdist`` command line.

Start-up matters (``simdist explain`` must answer at once), so this package imports
typer and simdist's stdlib-only core; rich, matplotlib and torch load inside the
commands that need them. Exit codes: 0 ok · 1 the scenario or real run failed, or
real and predicted differ · 2 bad usage or invalid launch · 3 real mode unavailable.
"""

import sys

import typer

from .._errors import ConfigError, RealModeUnavailable, SimdistError

app = typer.Typer(
    name="simdist",
    help="See what torchrun will do — ranks, GPUs, environment, collectives — before you spend GPU hours.",
    no_args_is_help=True,
    rich_markup_mode="rich",
    pretty_exceptions_enable=False,
    add_completion=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _print_version(value: bool) -> None:
    if value:
        from .. import __version__

        print(f"simdist {__version__} (models torchrun as of torch 2.13)")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", callback=_print_version, is_eager=True,
                                 help="Print simdist's version and exit."),  # fmt: skip
) -> None:
    """See what torchrun will do — ranks, GPUs, environment, collectives — before you spend GPU hours."""


# Each command lives in its own module and registers itself on import. Only the
# module of the command being run is imported, so start-up stays flat as the CLI grows.
COMMAND_MODULES = {"explain": "_explain_cmd", "simulate": "_simulate_cmd", "script": "_script_cmd",
                   "plot": "_plot_cmd", "calibrate": "_calibrate_cmd"}  # fmt: skip

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_UNAVAILABLE, EXIT_INTERRUPTED = 0, 1, 2, 3, 130


def _one_line(message: str) -> str:
    return " ".join(str(message).split())


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; return the exit status instead of raising (the one place that maps errors)."""
    args = sys.argv[1:] if argv is None else list(argv)
    _register(args[0] if args and args[0] in COMMAND_MODULES else None)
    command = typer.main.get_command(app)
    where = f"simdist {args[0]}" if args and args[0] in COMMAND_MODULES else "simdist"
    try:
        result = command.main(args=args, prog_name="simdist", standalone_mode=False)
    except typer.Exit as exc:
        return exc.exit_code
    except (typer.Abort, KeyboardInterrupt):
        print(f"{where}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except ConfigError as exc:
        print(f"{where}: error: {_one_line(exc)}", file=sys.stderr)
        return EXIT_USAGE
    except RealModeUnavailable as exc:
        print(f"{where}: {_one_line(exc)}", file=sys.stderr)
        return EXIT_UNAVAILABLE
    except SimdistError as exc:
        print(f"{where}: {_one_line(exc)}", file=sys.stderr)
        return EXIT_FAILED
    except typer.TyperException as exc:  # click's usage errors: bad option, bad value, missing argument
        if type(exc).__name__ == "NoArgsIsHelpError":
            ctx = getattr(exc, "ctx", None)
            print(ctx.get_help() if ctx is not None else exc.format_message())
            return EXIT_USAGE
        print(f"{where}: error: {_one_line(exc.format_message())}", file=sys.stderr)
        return getattr(exc, "exit_code", EXIT_USAGE)
    except BrokenPipeError:  # `simdist explain … | head`
        sys.stderr.close()
        return EXIT_OK
    if result == EXIT_INTERRUPTED:  # typer turns Ctrl-C into a return value of 130
        print(f"{where}: interrupted", file=sys.stderr)
    return result if isinstance(result, int) else EXIT_OK


def _register(name: str | None) -> None:
    """Import one command's module (or all of them, for help and unknown names)."""
    import importlib

    for module in [COMMAND_MODULES[name]] if name else COMMAND_MODULES.values():
        importlib.import_module(f"{__name__}.{module}")


def run() -> None:
    """Console-script entry point."""
    sys.exit(main())
