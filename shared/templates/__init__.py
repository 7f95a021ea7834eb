"""Organisation templates, rendered in a locked-down Jinja2 sandbox (mail and documents)."""
