"""werving's runnable services. They never import each other; ``cli`` composes them."""
