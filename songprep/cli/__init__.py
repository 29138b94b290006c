"""The ``songprep`` command line: parses options, calls library functions, maps errors to exit codes.

One module per command group; each registers itself on :data:`cli` below.
"""

from __future__ import annotations

import errno
from pathlib import Path

import click

from songprep import __version__
from songprep.errors import SongprepError


class OneLineUsageError(click.ClickException):
    """A bad command line as one line (click's own shows the usage, a hint and the error on four)."""

    exit_code = 2

    def show(self, file=None) -> None:
        click.echo(f"songprep: error: {self.format_message()}", err=True)


def _one_line_usage(err: click.UsageError) -> OneLineUsageError:
    where = f" (see `{err.ctx.command_path} --help`)" if err.ctx is not None else ""
    return OneLineUsageError(" ".join(err.format_message().split()) + where)


class SongprepGroup(click.Group):
    """Turns every :class:`SongprepError` into one line on stderr and the error's exit code."""

    def make_context(self, info_name, args, parent=None, **extra):
        try:
            return super().make_context(info_name, args, parent=parent, **extra)
        except click.exceptions.NoArgsIsHelpError:
            raise
        except click.UsageError as err:
            raise _one_line_usage(err) from None

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except click.exceptions.NoArgsIsHelpError:  # a bare group: its help, as click shows it
            raise
        except click.UsageError as err:  # a subcommand's bad option or argument
            raise _one_line_usage(err) from None
        except SongprepError as err:
            click.echo(f"songprep: error: {err}", err=True)
            ctx.exit(err.exit_code)
        except ValueError as err:  # bad option values caught by the config's own checks
            click.echo(f"songprep: error: {err}", err=True)
            ctx.exit(2)
        except OSError as err:  # the machine refused: a missing program, an unwritable folder, a full disk
            click.echo(f"songprep: error: {os_error_message(err)}", err=True)
            ctx.exit(6 if _missing_program(err) else 7)


def _missing_program(err: OSError) -> str | None:
    from songprep.tools import TOOLS

    name = Path(str(err.filename or "")).name
    return name if isinstance(err, FileNotFoundError) and name in TOOLS else None


def os_error_message(err: OSError) -> str:
    """One line with the fix for what the operating system refused."""
    from songprep.tools import missing_message

    program = _missing_program(err)
    if program:
        return missing_message(program)
    where = f": {err.filename}" if err.filename else ""
    if err.errno == errno.ENOSPC:
        return f"no space left on the device{where}; nothing half-written was kept; free space or choose another -o"
    if err.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return f"not allowed to write{where} ({err.strerror}); choose a writable -o"
    if err.errno == errno.ENOENT:
        return f"no such file or folder{where}; check the path (for -o: its parent must be creatable)"
    if err.errno in (errno.ENOTDIR, errno.EEXIST):
        return f"a file stands where a folder is needed{where}; choose another -o (or move that file)"
    if err.errno == errno.EISDIR:
        return f"a folder stands where a file is needed{where}; give a file's path"
    return f"{err.strerror or str(err) or type(err).__name__}{where}"


@click.group(cls=SongprepGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="songprep")
def cli() -> None:
    """songprep: turn raw songs into training corpora, score song models, generate songs."""


def main() -> None:
    cli(prog_name="songprep")


from songprep.cli import demo, eval, export, lyrics, models, notes, prep, structure  # noqa: E402  (each module adds its commands to cli)

cli.add_command(prep.prep)
cli.add_command(models.models)
cli.add_command(demo.demo)
cli.add_command(lyrics.lyrics)
cli.add_command(structure.structure)
cli.add_command(eval.eval_group)
cli.add_command(notes.notes)
cli.add_command(export.export_group)

from songprep.cli import generate as generation  # noqa: E402

cli.add_command(generation.tokenize)
cli.add_command(generation.train)
cli.add_command(generation.train_dpo)
cli.add_command(generation.generate)

from songprep.cli import pipelines  # noqa: E402

cli.add_command(pipelines.pipelines)
