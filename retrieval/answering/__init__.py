"""From the `Query` and its evidence to a grounded, cited answer."""
