"""``python -m catalog.cli``: the ``catalog`` command."""

from catalog.cli import main

main()
