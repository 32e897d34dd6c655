"""What every ``cdae-lite`` command shares: the help formatter and the errors reported in one line."""

from __future__ import annotations

import argparse

#: Exceptions that mean "the user's input is wrong", reported in one line without a traceback.
USER_ERRORS = (ValueError, FileNotFoundError, FileExistsError, PermissionError, IsADirectoryError,
               NotADirectoryError, KeyError, EOFError)


class Formatter(argparse.RawDescriptionHelpFormatter):
    """Keeps examples' line breaks; shows a default only where there is one worth showing."""

    def _get_help_string(self, action):
        text = action.help or ""
        if (action.default not in (None, False, argparse.SUPPRESS) and "default" not in text
                and action.option_strings):
            text += " (default: %(default)s)"
        return text


def _whole(text: str, least: int) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < least:
        raise argparse.ArgumentTypeError(f"must be at least {least}, got {value}")
    return value


def positive_int(text: str) -> int:
    """An argparse type: an integer >= 1 (``--batch-size 0`` is refused with a clear message)."""
    return _whole(text, 1)


def non_negative_int(text: str) -> int:
    """An argparse type: an integer >= 0 (``--pca -1`` is refused with a clear message)."""
    return _whole(text, 0)


def add_command(sub, name: str, help: str, description: str, examples: list[str]) -> argparse.ArgumentParser:
    """A subcommand parser with the shared formatter and an ``examples:`` epilog."""
    return sub.add_parser(name, formatter_class=Formatter, help=help, description=description,
                          epilog="examples:\n" + "\n".join(f"  {e}" for e in examples))


def output_file(text: str) -> str:
    """An argparse type for an output file name: not a folder, not ``.gz`` (outputs are uncompressed)."""
    from cdae_lite.io.files import check_name

    try:
        check_name(text)
    except (IsADirectoryError, ValueError) as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return text
