"""What every ``cdae-lite`` command shares: the help formatter, the errors reported in one line, and
where messages go (``--quiet``, ``--verbose``).

The argparse types here (:func:`positive_int`, :func:`non_negative_int`, :func:`output_file`) take
the option's value as typed (``str``), return it converted, and raise ``argparse.ArgumentTypeError``
with a one-line reason when it is refused.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import sys
from collections.abc import Iterator

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
    """A subcommand parser with the shared formatter and an ``examples:`` epilog.

    Parameters
    ----------
    sub : argparse._SubParsersAction
        The main parser's subparsers.
    name : str
        The command's name (``cdae-lite NAME``).
    help : str
        One line for the main ``--help``.
    description : str
        The command's own ``--help`` text.
    examples : list of str
        Command lines shown under ``examples:``.

    Returns
    -------
    argparse.ArgumentParser
    """
    return sub.add_parser(name, formatter_class=Formatter, help=help, description=description,
                          epilog="examples:\n" + "\n".join(f"  {e}" for e in examples))


def output_file(text: str) -> str:
    """An argparse type for an output file name, returned unchanged: not a folder, not ``.gz`` (outputs are
    uncompressed; :func:`cdae_lite.io.files.check_name`)."""
    from cdae_lite.io.files import check_name

    try:
        check_name(text)
    except (IsADirectoryError, ValueError) as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return text


class StderrHandler(logging.StreamHandler):
    """A logging handler writing each message as one line to the *current* ``sys.stderr``.

    Looked up at each message, so that a redirected stderr (pytest's ``capsys``, a notebook) receives it.
    """

    def __init__(self):
        super().__init__()
        self.setFormatter(logging.Formatter("%(message)s"))

    @property
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, value):  # logging.StreamHandler sets it; the property always answers sys.stderr
        pass


def add_verbosity(parser: argparse.ArgumentParser, suppress: bool = False) -> None:
    """Add ``--quiet`` and ``--verbose`` to a parser.

    Parameters
    ----------
    parser : argparse.ArgumentParser
        The main parser or a subcommand's.
    suppress : bool, optional
        ``True`` for a subcommand: an option left out there keeps the main parser's value
        (``cdae-lite --quiet denoise ...`` and ``cdae-lite denoise ... --quiet`` both work).
    """
    default = argparse.SUPPRESS if suppress else False
    group = parser.add_argument_group("messages").add_mutually_exclusive_group()
    group.add_argument("-q", "--quiet", action="store_true", default=default,
                       help="print only warnings and errors, and no progress bars")
    group.add_argument("-v", "--verbose", action="store_true", default=default,
                       help="print debug messages too")


@contextlib.contextmanager
def messages(quiet: bool = False, verbose: bool = False, main_process: bool = True) -> Iterator[logging.Logger]:
    """Send the package's log messages to stderr, one line each, while a command runs.

    Parameters
    ----------
    quiet : bool, optional
        Warnings and errors only, and no progress bars (:func:`cdae_lite.runtime.set_progress`).
    verbose : bool, optional
        Debug messages too.
    main_process : bool, optional
        ``False`` on a rank other than 0 under ``torchrun``: only its warnings and errors are shown.

    Yields
    ------
    logging.Logger
        The ``cdae_lite`` logger; its level, handlers, propagation and the progress switch are put back
        on exit.
    """
    from cdae_lite.runtime import set_progress

    logger = logging.getLogger("cdae_lite")
    for name, each in list(logging.root.manager.loggerDict.items()):  # logging.config.fileConfig (ASPIRE's
        if isinstance(each, logging.Logger) and name.split(".")[0] == "cdae_lite":  # import) disables them
            each.disabled = False
    level = logging.WARNING if quiet or not main_process else logging.DEBUG if verbose else logging.INFO
    handler, old_level, old_propagate = StderrHandler(), logger.level, logger.propagate
    logger.addHandler(handler)
    logger.setLevel(level)
    logger.propagate = False  # the command owns stderr: not again through a handler of the root logger
    old_progress = set_progress(False) if quiet else None
    try:
        yield logger
    finally:
        logger.removeHandler(handler)
        logger.setLevel(old_level)
        logger.propagate = old_propagate
        if quiet:
            set_progress(old_progress)
