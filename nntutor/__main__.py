"""``python -m nntutor`` runs the command-line tutor."""

from nntutor.entry import main

if __name__ == "__main__":
    main()
