"""``python -m nntutor`` runs the command-line tutor."""

from nntutor.cli.entry import main

if __name__ == "__main__":
    main()
