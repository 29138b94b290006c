"""``python -m songprep``: the command line (what ``torchrun -m songprep train ...`` starts per process)."""

from songprep.cli import main

main()
