"""The command line: a thin layer of Typer commands over the library facade."""
