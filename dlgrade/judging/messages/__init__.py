"""Message catalogues, one module per language (see :mod:`dlgrade.judging.i18n`)."""
