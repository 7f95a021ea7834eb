"""The emails werving writes: purposes and their variables, locales and formatting, the
built-in templates, and rendering through the sandbox (:mod:`shared.templates.sandbox`).

Shared because two services need the same rules: mail_worker renders what it sends, and
the command API checks and previews an organisation's own templates before they are used.
Needs babel and css-inline (the ``email`` extra, part of ``api`` and ``mail``).
"""
