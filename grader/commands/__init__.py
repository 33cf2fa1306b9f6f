"""One module per `python -m grader` command; each has `register(subparsers)`."""
