"""One module per ``course`` subcommand (``add_arguments`` and ``run``)."""
