"""Texts are marked for translation where they are written and translated where they are
shown, in the reader's language (the citizen's, the region's, the staff member's)."""


def N_(message: str) -> str:
    """Marks ``message`` for extraction into the catalogs (pybabel's ``-k N_``) and returns it
    unchanged: whoever shows it translates it, and fills its placeholders after that."""
    return message
