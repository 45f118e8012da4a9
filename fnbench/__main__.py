"""``python -m fnbench`` and the ``fnbench`` command: the command-line interface, with Ctrl-C
while it loads exit 130 too, never a traceback."""

import sys


def main() -> None:
    try:
        from fnbench.cli import main as cli_main
    except KeyboardInterrupt:
        sys.exit(130)
    cli_main()


if __name__ == "__main__":
    main()
