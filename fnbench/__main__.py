"""``python -m fnbench`` runs the command-line interface."""

from fnbench.cli import main

main()
