"""``python -m nntutor`` runs the command-line tutor."""

from nntutor.cli import main

if __name__ == "__main__":
    main()
