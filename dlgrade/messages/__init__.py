"""Message catalogues, one module per language (see :mod:`dlgrade.i18n`)."""
